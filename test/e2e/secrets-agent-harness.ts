import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { api, createUaIdentity } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";

/** Process-level helpers for the secrets agent's end-to-end tests: a real server, a real `kms agent`. */

export const REPO = resolve(import.meta.dirname, "../..");
const AGENT_MAIN = join(REPO, "test/e2e/secrets-agent-main.ts");

export interface AgentProcess {
  proc: ChildProcess;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export const spawnAgent = (args: string[], env: Record<string, string> = {}): AgentProcess => {
  const proc = spawn(process.execPath, ["--import", "tsx", AGENT_MAIN, "agent", ...args], {
    cwd: REPO,
    env: { ...process.env, NODE_NO_WARNINGS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once("exit", (code, signal) => r({ code, signal })));
  return {
    proc,
    output: () => out,
    exited,
    waitFor: (re, timeoutMs = 20_000) =>
      new Promise((resolvePromise, reject) => {
        const m = re.exec(out);
        if (m) return resolvePromise(m);
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; agent output:\n${out}`)), timeoutMs);
        waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolvePromise(x)) });
        void exited.then(() => setTimeout(() => reject(new Error(`agent exited while waiting for ${re}; output:\n${out}`)), 100));
      }),
    stop: async (signal = "SIGTERM") => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
};

export const until = async (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, stepMs = 25): Promise<number> => {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return Date.now() - start;
};

export interface Fixture {
  dir: string;
  projectId: string;
  projectSlug: string;
  clientIdFile: string;
  clientSecretFile: string;
  identityId: string;
}

/** A secret-manager project, an identity with universal auth and the given role in it, credentials on disk. */
export const makeFixture = async (s: TestServer, slug: string, role = "viewer", ua: Record<string, unknown> = {}): Promise<Fixture> => {
  const dir = mkdtempSync(join(tmpdir(), "kms-secrets-agent-"));
  const p = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: slug, slug, type: "secret-manager" } });
  if (p.status !== 200) throw new Error(`project: ${p.text}`);
  const c = await createUaIdentity(s, `${slug}-agent`, { ua });
  const m = await api(s.address, "POST", `/api/v1/projects/${p.body.project.id}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role, isTemporary: false }] } });
  if (m.status !== 200) throw new Error(`membership: ${m.text}`);
  const clientIdFile = join(dir, "client-id");
  const clientSecretFile = join(dir, "client-secret");
  writeFileSync(clientIdFile, c.clientId);
  writeFileSync(clientSecretFile, c.clientSecret);
  return { dir, projectId: p.body.project.id, projectSlug: p.body.project.slug, clientIdFile, clientSecretFile, identityId: c.identityId };
};

/** Creates or updates a secret as the admin (v3 raw routes). */
export const setSecret = async (s: TestServer, projectId: string, key: string, value: string, opts: { env?: string; path?: string; comment?: string } = {}) => {
  const body = { workspaceId: projectId, environment: opts.env ?? "dev", secretPath: opts.path ?? "/", secretValue: value, ...(opts.comment !== undefined && { secretComment: opts.comment }) };
  const c = await api(s.address, "POST", `/api/v3/secrets/raw/${key}`, { token: s.adminToken, body });
  if (c.status === 200) return c.body.secret;
  const u = await api(s.address, "PATCH", `/api/v3/secrets/raw/${key}`, { token: s.adminToken, body });
  if (u.status !== 200) throw new Error(`set ${key}: ${u.text}`);
  return u.body.secret;
};

export const deleteSecret = async (s: TestServer, projectId: string, key: string, opts: { env?: string; path?: string } = {}) => {
  const r = await api(s.address, "DELETE", `/api/v3/secrets/raw/${key}`, { token: s.adminToken, body: { workspaceId: projectId, environment: opts.env ?? "dev", secretPath: opts.path ?? "/" } });
  if (r.status !== 200) throw new Error(`delete ${key}: ${r.text}`);
};

export const makeFolder = async (s: TestServer, projectId: string, name: string, path = "/", env = "dev") => {
  const r = await api(s.address, "POST", "/api/v1/folders", { token: s.adminToken, body: { workspaceId: projectId, environment: env, name, path } });
  if (r.status !== 200) throw new Error(`folder ${name}: ${r.text}`);
};

/** Writes an agent config (YAML text) into the fixture directory and returns its path. */
export const writeConfig = (f: Fixture, yaml: string, name = "agent.yaml"): string => {
  const p = join(f.dir, name);
  writeFileSync(p, yaml);
  return p;
};

/** The `auth:` block for the fixture's identity. */
export const authYaml = (f: Fixture) => `auth:
  type: universal-auth
  config:
    client-id: ${f.clientIdFile}
    client-secret: ${f.clientSecretFile}
    remove_client_secret_on_read: false
`;
