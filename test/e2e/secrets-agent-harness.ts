import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, createUaIdentity } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";
import { spawnKms } from "../helpers/kms-process.js";
import type { KmsProcess } from "../helpers/kms-process.js";

/** Process-level helpers for the secrets agent's end-to-end tests: a real server, a real `kms agent`. */


export type AgentProcess = KmsProcess;

export const spawnAgent = (args: string[], env: Record<string, string> = {}): AgentProcess => spawnKms(["agent", ...args], env, 20_000);

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
