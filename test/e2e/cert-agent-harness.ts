import { X509Certificate, createPrivateKey } from "node:crypto";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { api } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";
import { spawnKms } from "../helpers/kms-process.js";
import type { KmsProcess } from "../helpers/kms-process.js";
import { unitNodeFlags } from "../helpers/systemd-unit.js";

/** Process-level helpers for the certificate agent's end-to-end tests. */


export type AgentProcess = KmsProcess;

/** With the node flags of contrib/kms-cert-agent.service (--jitless among them), as it runs in production. */
const AGENT_NODE_FLAGS = unitNodeFlags("kms-cert-agent.service");

export const spawnAgent = (args: string[], env: Record<string, string> = {}): AgentProcess =>
  spawnKms(["cert-manager", "agent", ...args], env, 30_000, AGENT_NODE_FLAGS);

/** Agents started by one test, all killed when it ends, pass or fail: a live child would keep the test file from ever finishing. */
export const agentScope = () => {
  const live: AgentProcess[] = [];
  return {
    spawn: (args: string[], env: Record<string, string> = {}) => {
      const a = spawnAgent(args, env);
      live.push(a);
      return a;
    },
    killAll: async () => {
      await Promise.all(live.map((a) => a.stop("SIGKILL")));
    },
  };
};

/** How many certificates the server has in its inventory for a project (each issuance adds one). */
export const inventoryCount = async (s: TestServer, projectId: string): Promise<number> => {
  const r = await api(s.address, "GET", `/api/v1/cert-manager/certificates?projectId=${projectId}&limit=1`, { token: s.adminToken });
  if (r.status !== 200) throw new Error(`inventory: ${r.status} ${r.text}`);
  return r.body.totalCount as number;
};

export const inventory = async (s: TestServer, projectId: string): Promise<{ id: string; serialNumber: string; status: string }[]> => {
  const r = await api(s.address, "GET", `/api/v1/cert-manager/certificates?projectId=${projectId}&limit=1000`, { token: s.adminToken });
  if (r.status !== 200) throw new Error(`inventory: ${r.status} ${r.text}`);
  return r.body.certificates;
};

export const serialOf = (path: string) => new X509Certificate(readFileSync(path)).serialNumber.toLowerCase();
export const keyMatches = (certPath: string, keyPath: string) =>
  new X509Certificate(readFileSync(certPath)).checkPrivateKey(createPrivateKey(readFileSync(keyPath)));

export const until = async (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/**
 * A pass-through HTTP proxy in front of the real server that keeps every response body, so a test can
 * prove what crossed the network. It changes nothing: it is not a mock of the server.
 */
export const recordingProxy = async (target: () => string) => {
  const bodies: { method: string; url: string; status: number; body: string }[] = [];
  const server = createServer((req, res) => {
    const t = new URL(target());
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (ur) => {
      const chunks: Buffer[] = [];
      ur.on("data", (c: Buffer) => chunks.push(c));
      ur.on("end", () => {
        const body = Buffer.concat(chunks);
        bodies.push({ method: req.method!, url: req.url!, status: ur.statusCode!, body: body.toString() });
        res.writeHead(ur.statusCode!, ur.headers).end(body);
      });
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
};
