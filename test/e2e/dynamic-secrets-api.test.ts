import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InfisicalSDK } from "@infisical/sdk";
import pg from "pg";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";

/**
 * The wire contract of api.md 5.3/5.4 and what clients rely on: shapes, the client quirks of api.md 8
 * (items 1, 2, 8, 9, 10), TTL rules, roles and masking, and that secrets never leave the server unsealed.
 * Redis's default user (no password) backs most cases; the SDK case uses PostgreSQL.
 */
const run = randomBytes(3).toString("hex");
const PREFIX = `ka${run}_`;
const ADMIN_PASSWORD = `redis-admin-${randomBytes(12).toString("hex")}`;
const projectSlug = `dyn-api-${run}`;
const where = { projectSlug, environmentSlug: "dev" };
/** A 422's issue list or another status's message, as one line to match against. */
const messageOf = (m: unknown) => (Array.isArray(m) ? m.map((i: { path: string[]; message: string }) => `${i.path.join(".")}: ${i.message}`).join("; ") : String(m));
const q = (extra: Record<string, string> = {}) => `?${new URLSearchParams({ ...where, ...extra })}`;
// Redis's `default` user has no password here, so it accepts any: ADMIN_PASSWORD is a marker to look for.
const redisProvider = (extra: Record<string, unknown> = {}) => ({
  type: "redis",
  inputs: { host: "127.0.0.1", port: 6379, username: "default", password: ADMIN_PASSWORD, creationStatement: `ACL SETUSER {{username}} on >{{password}} ~${PREFIX}:* +get`, ...extra },
});

describe("dynamic secrets: API contract", () => {
  let s: TestServer;
  let projectId = "";
  const tokens: Record<string, string> = {};
  const call = (method: string, path: string, body?: unknown, who = "admin") => api(s.address, method, path, { token: tokens[who], body });
  const leasePasswords: string[] = [];

  before(async () => {
    s = await startServer();
    tokens.admin = s.adminToken;
    const p = await call("POST", "/api/v1/projects", { projectName: "Dynamic API", slug: projectSlug });
    assert.equal(p.status, 200, p.text);
    projectId = p.body.project.id;
    for (const role of ["admin", "member", "viewer"]) {
      const c = await createUaIdentity(s, `ds-${role}`);
      const m = await call("POST", `/api/v1/projects/${projectId}/memberships/identities/${c.identityId}`, { roles: [{ role, isTemporary: false }] });
      assert.equal(m.status, 200, m.text);
      tokens[role] = await login(s.address, c.clientId, c.clientSecret);
      tokens[`${role}-client`] = JSON.stringify(c);
    }
  });
  after(async () => {
    const r = new (await import("ioredis")).Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on("error", () => {});
    await r.connect().then(async () => {
      for (const u of (await r.call("ACL", "USERS")) as string[]) if (u.startsWith(PREFIX)) await r.call("ACL", "DELUSER", u);
    }).catch(() => {});
    r.disconnect();
    await s?.cleanup();
  });

  test("create, list and get answer Infisical's shapes; inputs only where api.md allows them", async (t) => {
    if (!(await needService(t, "redis"))) return;
    const c = await call("POST", "/api/v1/dynamic-secrets", {
      ...where, path: "", name: "cache", provider: redisProvider(), defaultTTL: "1h", maxTTL: "2h",
      metadata: [{ key: "team", value: "db" }], usernameTemplate: `${PREFIX}{{randomUsername}}`,
    });
    assert.equal(c.status, 200, c.text);
    const ds = c.body.dynamicSecret;
    assert.deepEqual(Object.keys(ds).sort(), ["createdAt", "defaultTTL", "folderId", "id", "inputs", "maxTTL", "metadata", "name", "status", "statusDetails", "type", "updatedAt", "usernameTemplate", "version"]);
    assert.equal(ds.inputs.password, ADMIN_PASSWORD, "the creating admin sees the inputs");
    assert.equal(ds.inputs.revocationStatement, "ACL DELUSER {{username}}", "defaults are filled in and shown");
    assert.deepEqual(ds.metadata, [{ key: "team", value: "db" }]);

    const list = await call("GET", `/api/v1/dynamic-secrets${q()}`);
    assert.equal(list.status, 200);
    assert.equal(list.body.dynamicSecrets.length, 1);
    assert.equal(list.body.dynamicSecrets[0].inputs, undefined, "no inputs in lists");
    const get = await call("GET", `/api/v1/dynamic-secrets/CACHE${q({ path: "/" })}`);
    assert.equal(get.status, 200, ":name is lower-cased");
    assert.ok(get.headers.get("etag"));
    assert.equal(get.body.dynamicSecret.inputs.password, ADMIN_PASSWORD);

    const dup = await call("POST", "/api/v1/dynamic-secrets", { ...where, name: "Cache", provider: redisProvider(), defaultTTL: "1h" });
    assert.equal(dup.status, 400);
    assert.match(dup.body.message, /'cache' already exists in folder '\/'/);
  });

  test("leases as the Go SDK asks for them (\"\" ttl and path, null config) and as the CLI agent reads them (secretPath)", async (t) => {
    if (!(await needService(t, "redis"))) return;
    const before = Date.now();
    const l = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, path: "", ttl: "", config: null, dynamicSecretName: "CACHE", isForced: false, organizationSlug: "x" });
    assert.equal(l.status, 200, l.text);
    assert.deepEqual(Object.keys(l.body).sort(), ["data", "dynamicSecret", "lease"]);
    assert.deepEqual(Object.keys(l.body.data).sort(), ["DB_PASSWORD", "DB_USERNAME"]);
    leasePasswords.push(l.body.data.DB_PASSWORD);
    const lease = l.body.lease;
    assert.deepEqual(Object.keys(lease).sort(), ["config", "createdAt", "dynamicSecretId", "expireAt", "expiresAt", "externalEntityId", "id", "status", "statusDetails", "updatedAt", "version"]);
    assert.equal(lease.externalEntityId, l.body.data.DB_USERNAME);
    assert.equal(lease.expiresAt, lease.expireAt);
    const ttl = Date.parse(lease.expireAt) - before;
    assert.ok(ttl >= 3_600_000 - 1000 && ttl <= 3_600_000 + 5000, `defaultTTL (1h) applies, got ${ttl}ms`);
    assert.equal(l.body.dynamicSecret.inputs, undefined);
    assert.ok(!l.text.includes(ADMIN_PASSWORD) && !l.text.includes("inputs"), "no provider inputs in lease responses");

    for (const extra of [{ secretPath: "/" }, { path: "/" }, {}] as Record<string, string>[]) {
      const g = await call("GET", `/api/v1/dynamic-secrets/leases/${lease.id}${q(extra)}`);
      assert.equal(g.status, 200, `${JSON.stringify(extra)}: ${g.text}`);
      assert.equal(g.body.lease.id, lease.id);
      assert.deepEqual(g.body.dynamicSecret, g.body.lease.dynamicSecret, "top-level dynamicSecret next to lease (api.md 8 item 2)");
      assert.ok(!g.text.includes(l.body.data.DB_PASSWORD) && !g.text.includes(ADMIN_PASSWORD), "no credentials, no inputs");
    }
    // 404, never another status, for what the agent must forget (api.md 5.4).
    for (const [what, path] of [
      ["unknown lease", `/api/v1/dynamic-secrets/leases/00000000-0000-4000-8000-000000000000${q()}`],
      ["another environment", `/api/v1/dynamic-secrets/leases/${lease.id}${q({ environmentSlug: "prod" })}`],
      ["another folder named explicitly", `/api/v1/dynamic-secrets/leases/${lease.id}${q({ secretPath: "/elsewhere" })}`],
    ] as const) assert.equal((await call("GET", path)).status, 404, what);

    const leases = await call("GET", `/api/v1/dynamic-secrets/cache/leases${q()}`);
    assert.deepEqual(leases.body.leases.map((x: { id: string }) => x.id), [lease.id]);
  });

  test("a dynamic secret in a sub-folder is found through path or the agent's secretPath", async (t) => {
    if (!(await needService(t, "redis"))) return;
    const f = await call("POST", "/api/v1/folders", { workspaceId: projectId, environment: "dev", name: "apps", path: "/" });
    assert.equal(f.status, 200, f.text);
    const c = await call("POST", "/api/v1/dynamic-secrets", { ...where, path: "/apps/", name: "cache", provider: redisProvider(), defaultTTL: "1h", usernameTemplate: `${PREFIX}{{randomUsername}}` });
    assert.equal(c.status, 200, c.text);
    assert.equal(c.body.dynamicSecret.maxTTL, null, "maxTTL absent = unlimited");
    const l = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, path: "/apps", dynamicSecretName: "cache", ttl: "5y" });
    assert.equal(l.status, 200, `no maxTTL: a long lease is allowed: ${l.text}`);
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/leases/${l.body.lease.id}${q({ secretPath: "/apps" })}`)).status, 200);
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/leases/${l.body.lease.id}${q({ path: "/apps", secretPath: "/" })}`)).status, 200, "path wins over secretPath");
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/leases/${l.body.lease.id}${q({ path: "/" })}`)).status, 404);
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/cache${q({ path: "/nope" })}`)).status, 404);
    assert.equal((await call("DELETE", `/api/v1/dynamic-secrets/cache`, { ...where, path: "/apps" })).status, 200);
  });

  test("TTLs: ms-style, at least 1m and at most 10y (422), never past maxTTL (400)", async (t) => {
    if (!(await needService(t, "redis"))) return;
    const create = (extra: Record<string, unknown>) => call("POST", "/api/v1/dynamic-secrets", { ...where, name: "ttl-check", provider: redisProvider(), defaultTTL: "1h", ...extra });
    for (const [extra, status, field] of [
      [{ defaultTTL: "30s" }, 422, "defaultTTL"], [{ defaultTTL: "11y" }, 422, "defaultTTL"], [{ defaultTTL: "1h30m" }, 422, "defaultTTL"],
      [{ maxTTL: "59s" }, 422, "maxTTL"], [{ defaultTTL: "2h", maxTTL: "1h" }, 400, "maxTTL"],
    ] as const) {
      const r = await create(extra);
      assert.equal(r.status, status, `${JSON.stringify(extra)}: ${r.text}`);
      assert.match(messageOf(r.body.message), new RegExp(field));
      if (status === 422) assert.ok(Array.isArray(r.body.message), "422 carries the issue list");
    }
    const lease = (ttl: string) => call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "cache", ttl });
    assert.equal((await lease("30s")).status, 422);
    const tooLong = await lease("3h");
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.body.message, /cannot be longer than the dynamic secret's maxTTL \(2h\)/);
    const ok = await lease("90m");
    assert.equal(ok.status, 200);
    const renew = await call("POST", `/api/v1/dynamic-secrets/leases/${ok.body.lease.id}/renew`, { ...where, ttl: "" });
    assert.equal(renew.status, 200, "\"\" ttl renews by defaultTTL");
    assert.equal(renew.body.lease.version, 2);
    assert.equal((await call("GET", `/api/v1/dynamic-secrets${q()}`)).body.dynamicSecrets.filter((d: { name: string }) => d.name === "ttl-check").length, 0, "nothing stored");
  });

  test("bad provider inputs are refused before anything is stored", async (t) => {
    if (!(await needService(t, "redis"))) return;
    const create = (provider: unknown, extra: Record<string, unknown> = {}) => call("POST", "/api/v1/dynamic-secrets", { ...where, name: "bad-inputs", provider, defaultTTL: "1h", ...extra });
    const cases: [string, unknown, number, RegExp, Record<string, unknown>?][] = [
      ["unsupported provider type", { type: "aws-iam", inputs: {} }, 400, /provider type "aws-iam" is not supported/],
      ["unsupported sql client", { type: "sql-database", inputs: { client: "oracledb", host: "h", port: 1521, database: "d", username: "u", password: "p" } }, 422, /client "oracledb" is not supported/],
      ["unknown placeholder", redisProvider({ creationStatement: "ACL SETUSER {{user}} on" }), 422, /creationStatement.*unknown placeholder '\{\{user\}\}'/],
      ["password in a revocation statement", redisProvider({ revocationStatement: "ACL DELUSER {{password}}" }), 422, /revocationStatement/],
      ["missing port", { type: "redis", inputs: { host: "127.0.0.1", username: "default" } }, 422, /provider\.inputs\.port/],
      ["quote in allowed symbols", { type: "sql-database", inputs: { client: "postgres", host: "127.0.0.1", port: 5432, database: "postgres", username: "postgres", password: "x", passwordRequirements: { length: 10, required: {}, allowedSymbols: "'" } } }, 422, /allowedSymbols/],
      ["bad username template", redisProvider(), 400, /usernameTemplate: unknown placeholder/, { usernameTemplate: "{{nope}}" }],
      ["name is not a slug", redisProvider(), 422, /name/, { name: "no spaces" }],
    ];
    for (const [what, provider, status, message, extra] of cases) {
      const r = await create(provider, extra);
      assert.equal(r.status, status, `${what}: ${r.text}`);
      assert.match(messageOf(r.body.message), message, what);
    }
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/bad-inputs${q()}`)).status, 404);
  });

  test("roles: admins manage dynamic secrets, members lease, viewers read; secret inputs are masked below admin", async (t) => {
    if (!(await needService(t, "redis"))) return;
    const body = { ...where, name: "by-member", provider: redisProvider(), defaultTTL: "1h" };
    assert.equal((await call("POST", "/api/v1/dynamic-secrets", body, "member")).status, 403);
    for (const who of ["member", "viewer"]) {
      const g = await call("GET", `/api/v1/dynamic-secrets/cache${q()}`, undefined, who);
      assert.equal(g.status, 200, who);
      assert.equal(g.body.dynamicSecret.inputs.password, "******", `${who} sees the admin password masked`);
      assert.equal(g.body.dynamicSecret.inputs.host, "127.0.0.1", `${who} sees the rest`);
      assert.ok(!g.text.includes(ADMIN_PASSWORD));
    }
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/cache${q()}`, undefined, "admin")).body.dynamicSecret.inputs.password, ADMIN_PASSWORD);
    assert.equal((await call("PATCH", "/api/v1/dynamic-secrets/cache", { ...where, data: { defaultTTL: "2h" } }, "member")).status, 403);
    assert.equal((await call("DELETE", "/api/v1/dynamic-secrets/cache", where, "member")).status, 403);
    const l = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "cache" }, "member");
    assert.equal(l.status, 200, l.text);
    leasePasswords.push(l.body.data.DB_PASSWORD);
    assert.equal((await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "cache" }, "viewer")).status, 403);
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/leases/${l.body.lease.id}${q()}`, undefined, "viewer")).status, 403);
    assert.equal((await call("DELETE", `/api/v1/dynamic-secrets/leases/${l.body.lease.id}`, where, "member")).status, 200);
  });

  test("update: rename, metadata and TTLs; a masked password sent back keeps the stored one", async (t) => {
    if (!(await needService(t, "redis"))) return;
    const shown = (await call("GET", `/api/v1/dynamic-secrets/cache${q()}`, undefined, "member")).body.dynamicSecret.inputs;
    const u = await call("PATCH", "/api/v1/dynamic-secrets/CACHE", { ...where, data: { newName: "Cache-Main", defaultTTL: "30m", maxTTL: null, metadata: [{ key: "k", value: "v" }], inputs: shown } });
    assert.equal(u.status, 200, u.text);
    const ds = u.body.dynamicSecret;
    assert.equal(ds.name, "cache-main");
    assert.equal(ds.version, 2);
    assert.equal(ds.maxTTL, null);
    assert.equal(ds.inputs.password, ADMIN_PASSWORD, "the mask did not overwrite the stored password");
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/cache${q()}`)).status, 404);
    const bad = await call("PATCH", "/api/v1/dynamic-secrets/cache-main", { ...where, data: { inputs: { port: 1 } } });
    assert.equal(bad.status, 400, "changed inputs are validated against the target");
    assert.match(bad.body.message, /127\.0\.0\.1:1/);
    assert.equal((await call("GET", `/api/v1/dynamic-secrets/cache-main${q()}`)).body.dynamicSecret.inputs.port, 6379, "nothing half-applied");
  });

  test("the SDK (@infisical/sdk v5) drives a PostgreSQL dynamic secret with its own passwordRequirements spelling", async (t) => {
    if (!(await needService(t, "postgres"))) return;
    const c = await createUaIdentity(s, "sdk-admin");
    assert.equal((await call("POST", `/api/v1/projects/${projectId}/memberships/identities/${c.identityId}`, { roles: [{ role: "admin", isTemporary: false }] })).status, 200);
    const sdk = new InfisicalSDK({ siteUrl: s.address });
    await sdk.auth().universalAuth.login({ clientId: c.clientId, clientSecret: c.clientSecret });
    const name = "pg-sdk";
    const ds = await sdk.dynamicSecrets().create({
      name, projectSlug, environmentSlug: "dev", path: "/", defaultTTL: "1h", maxTTL: "2h",
      provider: {
        type: "sql-database" as never,
        inputs: {
          client: "postgres" as never, host: "127.0.0.1", port: 5432, database: "postgres", username: "postgres", password: "x",
          creationStatement: `CREATE ROLE "{{username}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
          revocationStatement: `DROP ROLE "{{username}}";`,
          passwordRequirements: { length: 20, required: { minDigits: 5, minSymbols: 2 }, allowedSymbols: "#%" },
        },
      },
      usernameTemplate: `${PREFIX}{{randomUsername}}`,
    } as never);
    assert.equal((ds as { name: string }).name, name);
    const res = (await sdk.dynamicSecrets().leases.create({ dynamicSecretName: name, projectSlug, environmentSlug: "dev", path: "/", ttl: "30m" } as never)) as unknown as { lease: { id: string; expireAt: string }; data: { DB_USERNAME: string; DB_PASSWORD: string } };
    const pw = res.data.DB_PASSWORD;
    leasePasswords.push(pw);
    assert.equal(pw.length, 20);
    assert.ok((pw.match(/\d/g) ?? []).length >= 5 && (pw.match(/[#%]/g) ?? []).length >= 2, pw);
    const admin = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
    await admin.connect();
    try {
      assert.equal((await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [res.data.DB_USERNAME])).rowCount, 1);
      const renewed = (await sdk.dynamicSecrets().leases.renew(res.lease.id, { projectSlug, environmentSlug: "dev", path: "/", ttl: "90m" } as never)) as unknown as { lease: { expireAt: string } };
      assert.ok(Date.parse(renewed.lease.expireAt) > Date.parse(res.lease.expireAt));
      await sdk.dynamicSecrets().leases.delete(res.lease.id, { projectSlug, environmentSlug: "dev", path: "/" } as never);
      assert.equal((await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [res.data.DB_USERNAME])).rowCount, 0, "revoked");
      await sdk.dynamicSecrets().delete(name, { projectSlug, environmentSlug: "dev", path: "/" } as never);
    } finally {
      for (const r of (await admin.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`${PREFIX}%`])).rows) await admin.query(`DROP ROLE "${r.rolname}"`);
      await admin.end();
    }
  });

  test("provider inputs and lease credentials are sealed at rest, and the audit log records every change without them", async (t) => {
    if (!(await needService(t, "redis"))) return;
    assert.ok(leasePasswords.length >= 2);
    const files = readdirSync(s.dataDir).filter((f) => f.startsWith("kms.sqlite"));
    assert.ok(files.length > 0);
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(s.dataDir, f))));
    for (const secret of [ADMIN_PASSWORD, ...leasePasswords]) assert.equal(bytes.indexOf(secret), -1, "a secret is stored in plaintext");
    const log = await call("GET", `/api/v1/projects/${projectId}/audit-logs?limit=200`);
    assert.equal(log.status, 200);
    const actions = new Set(log.body.auditLogs.map((e: { action: string }) => e.action));
    for (const a of ["create-dynamic-secret", "update-dynamic-secret", "delete-dynamic-secret", "create-dynamic-secret-lease", "renew-dynamic-secret-lease", "delete-dynamic-secret-lease"])
      assert.ok(actions.has(a), `audit has ${a}`);
    for (const secret of [ADMIN_PASSWORD, ...leasePasswords]) assert.ok(!log.text.includes(secret), "no secret in the audit log");
    assert.ok(!s.output().includes(ADMIN_PASSWORD), "nor in the server log");
  });
});
