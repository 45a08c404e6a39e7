import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");
export const KMS_BIN = join(REPO, "bin/kms.js");

export interface TestServer {
  address: string;
  dataDir: string;
  adminToken: string;
  orgId: string;
  proc: ChildProcess;
  /** Everything the server printed, for assertions that nothing secret was logged. */
  output(): string;
  /** SIGTERM and wait for exit; the data dir stays until cleanup(). */
  stop(): Promise<number | null>;
  /** Start again on the same data dir (and the same port when possible). */
  restart(): Promise<void>;
  /** stop() and remove the data dir. */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  dataDir?: string;
  databaseUrl?: string;
  /** Bootstrap the instance and return the admin token (default true). */
  bootstrap?: boolean;
  args?: string[];
}

const spawnServer = (dataDir: string, port: number, opts: StartOptions) =>
  new Promise<{ proc: ChildProcess; address: string; out: string[] }>((res, rej) => {
    // KMS_SERVER_NODE_ARGS: extra node flags for the server process, e.g. "--cpu-prof --cpu-prof-dir=.tmp/prof" to profile a benchmark.
    const nodeArgs = process.env.KMS_SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
    const args = [...nodeArgs, KMS_BIN, "server", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn", ...(opts.args ?? [])];
    if (opts.databaseUrl) args.push("--database-url", opts.databaseUrl);
    // Node's warnings on, as a user would see them (scripts/test.mjs turns them off for the test runner only).
    const proc = spawn(process.execPath, args, { env: { ...process.env, NODE_NO_WARNINGS: "", ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    const out: string[] = [];
    let settled = false;
    const timer = setTimeout(() => { if (!settled) { settled = true; proc.kill("SIGKILL"); rej(new Error(`server did not start:\n${out.join("")}`)); } }, 30_000);
    const onData = (d: Buffer) => {
      out.push(d.toString());
      const m = /kms server listening on (\S+)/.exec(out.join(""));
      if (m && !settled) { settled = true; clearTimeout(timer); res({ proc, address: m[1]!, out }); }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.on("exit", (code) => { if (!settled) { settled = true; clearTimeout(timer); rej(new Error(`server exited with ${code}:\n${out.join("")}`)); } });
  });

export const startServer = async (opts: StartOptions = {}): Promise<TestServer> => {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "kms-test-"));
  let { proc, address, out } = await spawnServer(dataDir, 0, opts);
  let adminToken = "";
  let orgId = "";
  if (opts.bootstrap !== false) {
    const r = await fetch(`${address}/api/v1/admin/bootstrap`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "admin@example.com", password: "test-password", organization: "test-org" }),
    });
    const b = (await r.json()) as { identity: { credentials: { token: string } }; organization: { id: string } };
    if (!r.ok) throw new Error(`bootstrap failed: ${JSON.stringify(b)}`);
    adminToken = b.identity.credentials.token;
    orgId = b.organization.id;
  }
  const stop = () =>
    new Promise<number | null>((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res(proc.exitCode);
      proc.once("exit", (code) => res(code));
      proc.kill("SIGTERM");
    });
  const server: TestServer = {
    get address() { return address; },
    dataDir, adminToken, orgId,
    get proc() { return proc; },
    output: () => out.join(""),
    stop,
    restart: async () => {
      await stop();
      const port = Number(new URL(address).port);
      ({ proc, address, out } = await spawnServer(dataDir, port, opts).catch(() => spawnServer(dataDir, 0, opts)));
    },
    cleanup: async () => {
      await stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
};

export interface ApiResponse<T = any> { status: number; body: T; headers: Headers; text: string }

/** A JSON call against a test server. */
export const api = async <T = any>(address: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> => {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${address}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: any = text;
  try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
  return { status: res.status, body, headers: res.headers, text };
};

/** Creates a machine identity with universal auth and a client secret; returns its credentials. */
export const createUaIdentity = async (s: { address: string; adminToken: string; orgId: string }, name: string, opts: { role?: string; ua?: Record<string, unknown> } = {}) => {
  const i = await api(s.address, "POST", "/api/v1/identities", { token: s.adminToken, body: { name, organizationId: s.orgId, role: opts.role ?? "no-access" } });
  if (i.status !== 200) throw new Error(`create identity: ${i.text}`);
  const identityId = i.body.identity.id as string;
  const ua = await api(s.address, "POST", `/api/v1/auth/universal-auth/identities/${identityId}`, { token: s.adminToken, body: { accessTokenTTL: 3600, accessTokenMaxTTL: 86400, ...opts.ua } });
  if (ua.status !== 200) throw new Error(`attach ua: ${ua.text}`);
  const cs = await api(s.address, "POST", `/api/v1/auth/universal-auth/identities/${identityId}/client-secrets`, { token: s.adminToken, body: {} });
  return { identityId, clientId: ua.body.identityUniversalAuth.clientId as string, clientSecret: cs.body.clientSecret as string };
};

export const login = async (address: string, clientId: string, clientSecret: string): Promise<string> => {
  const r = await api(address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId, clientSecret } });
  if (r.status !== 200) throw new Error(`login: ${r.text}`);
  return r.body.accessToken;
};
