import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import pg from "pg";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";

/**
 * What happens when things overlap, against a real `kms server` and a real PostgreSQL: many clients asking
 * for leases at once (pods starting together), a dynamic secret deleted while a lease is being made, and a
 * target that accepts connections but never answers.
 */

const run = randomBytes(3).toString("hex");
const PREFIX = `kr${run}_`;
const targetDb = `kmsrace_${run}`;

type LeaseData = { DB_USERNAME: string; DB_PASSWORD: string };

const withPg = async <T>(database: string, f: (c: pg.Client) => Promise<T>) => {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await c.connect();
  try { return await f(c); } finally { await c.end(); }
};
const roles = () => withPg("postgres", async (c) => (await c.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`${PREFIX}%`])).rows.map((r) => r.rolname as string));

describe("dynamic secrets when requests overlap", () => {
  let s: TestServer;
  const projectSlug = `race-${run}`;
  const where = { projectSlug, environmentSlug: "dev" };
  const call = (method: string, path: string, body?: unknown) => api(s.address, method, path, { token: s.adminToken, body });
  let targetReady: Promise<void> | undefined;
  const needTarget = async (t: TestContext) => {
    if (!(await needService(t, "postgres"))) return false;
    targetReady ??= (async () => {
      await withPg("postgres", (c) => c.query(`CREATE DATABASE ${targetDb}`));
      await withPg(targetDb, (c) => c.query("CREATE TABLE t (v text); CREATE TABLE u (v text); INSERT INTO t VALUES ('hello')"));
    })();
    await targetReady;
    return true;
  };
  const pgProvider = (inputs: Record<string, unknown> = {}) => ({
    type: "sql-database",
    inputs: { client: "postgres", host: "127.0.0.1", port: 5432, database: targetDb, username: "postgres", password: "unused-with-trust-auth", ...inputs },
  });

  before(async () => {
    s = await startServer({ env: { KMS_DYNAMIC_SECRET_CONNECT_TIMEOUT: "1s" } });
    const p = await call("POST", "/api/v1/projects", { projectName: "Races", slug: projectSlug });
    assert.equal(p.status, 200, p.text);
  });
  after(async () => {
    await s?.cleanup();
    if (!targetReady) return;
    await withPg("postgres", async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${targetDb} WITH (FORCE)`);
      for (const r of (await c.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`${PREFIX}%`])).rows) await c.query(`DROP ROLE "${r.rolname}"`);
    });
  });

  test("PostgreSQL: leases asked for at the same time all succeed with the default statements, and revoking them at once too", async (t) => {
    if (!(await needTarget(t))) return;
    // The default statements GRANT and REVOKE on ALL TABLES IN SCHEMA public: two such transactions at
    // once made PostgreSQL fail one with "tuple concurrently updated".
    const c = await call("POST", "/api/v1/dynamic-secrets", { ...where, name: "pg-default", provider: pgProvider(), defaultTTL: "10m", usernameTemplate: `${PREFIX}{{randomUsername}}` });
    assert.equal(c.status, 200, c.text);
    const made = await Promise.all(Array.from({ length: 12 }, () => call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "pg-default" })));
    for (const r of made) assert.equal(r.status, 200, r.text);
    assert.equal((await roles()).length, 12);
    for (const r of made) {
      const d = r.body.data as LeaseData;
      const cl = new pg.Client({ host: "127.0.0.1", port: 5432, database: targetDb, user: d.DB_USERNAME, password: d.DB_PASSWORD });
      await cl.connect();
      try { assert.equal((await cl.query("SELECT v FROM t")).rows[0].v, "hello"); } finally { await cl.end(); }
    }
    const revoked = await Promise.all(made.map((r) => call("DELETE", `/api/v1/dynamic-secrets/leases/${r.body.lease.id}`, where)));
    for (const r of revoked) assert.equal(r.status, 200, r.text);
    assert.deepEqual(await roles(), []);
  });

  test("a dynamic secret deleted while one of its leases is being made: the lease request gets 404 and its user is removed", async (t) => {
    if (!(await needTarget(t))) return;
    const provider = pgProvider({
      creationStatement: `SELECT pg_sleep(1.5); CREATE ROLE "{{username}}" WITH LOGIN PASSWORD '{{password}}'`,
      revocationStatement: `DROP ROLE "{{username}}"`,
    });
    const c = await call("POST", "/api/v1/dynamic-secrets", { ...where, name: "pg-slow", provider, defaultTTL: "10m", usernameTemplate: `${PREFIX}{{randomUsername}}` });
    assert.equal(c.status, 200, c.text);
    const leasing = call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "pg-slow" });
    await new Promise((r) => setTimeout(r, 500));
    const d = await call("DELETE", "/api/v1/dynamic-secrets/pg-slow", where);
    assert.equal(d.status, 200, d.text);
    const l = await leasing;
    assert.equal(l.status, 404, l.text);
    assert.match(l.body.message, /Dynamic secret 'pg-slow' .*deleted while the lease was being created/);
    assert.equal(l.body.data, undefined, "no credentials for a lease nobody records");
    assert.deepEqual(await roles(), [], "the user made for it was dropped again");
    assert.doesNotMatch(s.output(), /FOREIGN KEY|unhandled error/);
  });

  test("Redis: a target that accepts the connection but never answers fails within the connect timeout", async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((sock) => { sockets.add(sock); });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const r = await call("POST", "/api/v1/dynamic-secrets", {
        ...where, name: "redis-silent", defaultTTL: "10m",
        provider: { type: "redis", inputs: { host: "127.0.0.1", port, username: "default", password: "silent-target-pw" } },
      });
      const took = Date.now() - started;
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.message, new RegExp(`redis at 127\\.0\\.0\\.1:${port} .*no answer within 1s`));
      // KMS_DYNAMIC_SECRET_CONNECT_TIMEOUT is 1s here; it took 3s (the command timeout) before.
      assert.ok(took < 2000, `answered after ${took}ms`);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
