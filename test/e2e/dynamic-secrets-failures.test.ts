import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";

/**
 * A lease whose creation fails half-way must not leave a user at the target that no lease knows of (nobody
 * would ever revoke it), and a target that went away must fail a lease request within the connect timeout.
 * Real `kms server`, real Redis and MariaDB.
 */

const run = randomBytes(3).toString("hex");
const PREFIX = `kf${run}_`;
const myDb = `kmsfail_${run}`;

const withRedis = async <T>(f: (r: Redis) => Promise<T>) => {
  const r = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
  r.on("error", () => {});
  await r.connect();
  try { return await f(r); } finally { r.disconnect(); }
};
const redisUsers = () => withRedis(async (r) => ((await r.call("ACL", "USERS")) as string[]).filter((u) => u.startsWith(PREFIX)));
const withPg = async <T>(f: (c: pg.Client) => Promise<T>) => {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  await c.connect();
  try { return await f(c); } finally { await c.end(); }
};
const pgRoles = () => withPg(async (c) => (await c.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`${PREFIX}%`])).rows.map((r) => r.rolname as string));
const withMy = async <T>(f: (c: mysql.Connection) => Promise<T>) => {
  const c = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", password: "" });
  try { return await f(c); } finally { await c.end(); }
};

/** A TCP relay to a real service that can be told to go silent: it then accepts connections and answers nothing. */
const relay = async (port: number) => {
  let silent = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    if (silent) return;
    const upstream = connect(port, "127.0.0.1");
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on("error", close);
    upstream.on("error", close);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    goSilent: () => { silent = true; },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
};

describe("dynamic-secret leases whose creation fails", () => {
  let s: TestServer;
  const projectSlug = `fail-${run}`;
  const where = { projectSlug, environmentSlug: "dev" };
  const call = (method: string, path: string, body?: unknown) => api(s.address, method, path, { token: s.adminToken, body });

  before(async () => {
    s = await startServer({ env: { KMS_DYNAMIC_SECRET_CONNECT_TIMEOUT: "1s", KMS_LEASE_SWEEP_INTERVAL: "200ms", KMS_MIN_LEASE_TTL: "1s" } });
    const p = await call("POST", "/api/v1/projects", { projectName: "Failures", slug: projectSlug });
    assert.equal(p.status, 200, p.text);
  });
  after(async () => {
    await s?.cleanup();
  });

  test("Redis: a creation block whose second command fails removes the user the first one made", async (t) => {
    if (!(await needService(t, "redis"))) return;
    try {
      // MULTI/EXEC does not roll back: the first SETUSER runs, the second fails at run time.
      const c = await call("POST", "/api/v1/dynamic-secrets", {
        ...where, name: "redis-half", defaultTTL: "10m", usernameTemplate: `${PREFIX}{{randomUsername}}`,
        provider: { type: "redis", inputs: { host: "127.0.0.1", port: 6379, username: "default", creationStatement: "ACL SETUSER {{username}} on >{{password}} ~* +@all; ACL SETUSER {{username}} +kmsnosuchcommand" } },
      });
      assert.equal(c.status, 200, c.text);
      const l = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "redis-half" });
      assert.equal(l.status, 400, l.text);
      assert.match(l.body.message, /Failed to create lease user .*kmsnosuchcommand/);
      assert.deepEqual(await redisUsers(), [], "no user is left at Redis that no lease knows of");
    } finally {
      await withRedis(async (r) => { for (const u of (await r.call("ACL", "USERS")) as string[]) if (u.startsWith(PREFIX)) await r.call("ACL", "DELUSER", u); });
    }
  });

  test("a target that stopped answering is tried once per delete and per sweep, not once per lease", async (t) => {
    if (!(await needService(t, "postgres"))) return;
    const r = await relay(5432);
    const leaseQuery = (name: string) => `/api/v1/dynamic-secrets/${name}/leases?${new URLSearchParams(where)}`;
    try {
      const provider = {
        type: "sql-database",
        inputs: {
          client: "postgres", host: "127.0.0.1", port: r.port, database: "postgres", username: "postgres", password: "unused-with-trust-auth",
          creationStatement: `CREATE ROLE "{{username}}" WITH LOGIN PASSWORD '{{password}}'`, revocationStatement: `DROP ROLE "{{username}}"`,
        },
      };
      for (const name of ["pg-gone", "pg-gone-swept"]) {
        const c = await call("POST", "/api/v1/dynamic-secrets", { ...where, name, provider, defaultTTL: "10m", usernameTemplate: `${PREFIX}{{randomUsername}}` });
        assert.equal(c.status, 200, c.text);
      }
      for (let i = 0; i < 4; i++) {
        assert.equal((await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "pg-gone" })).status, 200);
        assert.equal((await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "pg-gone-swept", ttl: "1s" })).status, 200);
      }
      r.goSilent();

      // The sweeper: the four expired leases are all marked after one attempt at the target, not four.
      const swept = Date.now();
      for (;;) {
        const leases = (await call("GET", leaseQuery("pg-gone-swept"))).body.leases as { status: string | null; statusDetails: string | null }[];
        if (leases.every((l) => l.status === "FailedDeletion")) {
          for (const l of leases) assert.match(l.statusDetails ?? "", /Could not connect to postgres at 127\.0\.0\.1:\d+ .*no answer within 1s/);
          break;
        }
        assert.ok(Date.now() - swept < 10_000, "the sweeper marked them");
        await new Promise((res) => setTimeout(res, 50));
      }
      // 1 s of lease left, one sweep interval, one connect timeout; four timeouts in a row took over 5 s.
      assert.ok(Date.now() - swept < 3500, `marked after ${Date.now() - swept}ms`);

      // A delete: 400 naming every lease, after one timeout; each lease stays, marked.
      let started = Date.now();
      const refused = await call("DELETE", "/api/v1/dynamic-secrets/pg-gone", where);
      assert.equal(refused.status, 400, refused.text);
      assert.ok(Date.now() - started < 1800, `refused after ${Date.now() - started}ms`);
      assert.equal(refused.body.details.failures.length, 4);
      const kept = (await call("GET", leaseQuery("pg-gone"))).body.leases as { status: string | null }[];
      assert.deepEqual(kept.map((l) => l.status), Array(4).fill("FailedDeletion"));

      // Forced: the records go after one timeout; the users stay at the target, as documented.
      started = Date.now();
      const forced = await call("DELETE", "/api/v1/dynamic-secrets/pg-gone", { ...where, isForced: true });
      assert.equal(forced.status, 200, forced.text);
      assert.ok(Date.now() - started < 1800, `deleted after ${Date.now() - started}ms`);
      assert.equal((await call("DELETE", "/api/v1/dynamic-secrets/pg-gone-swept", { ...where, isForced: true })).status, 200);
      assert.equal((await pgRoles()).length, 8, "the users a forced delete gave up on remain at the target");
    } finally {
      await r.close();
      await withPg(async (c) => { for (const u of await pgRoles()) await c.query(`DROP ROLE "${u}"`); });
    }
  });

  test("MySQL: a target that stopped answering fails a lease request within the connect timeout, not twice it", async (t) => {
    if (!(await needService(t, "mariadb"))) return;
    await withMy((c) => c.query(`CREATE DATABASE ${myDb}`));
    const r = await relay(3306);
    try {
      const c = await call("POST", "/api/v1/dynamic-secrets", {
        ...where, name: "mysql-gone", defaultTTL: "10m", usernameTemplate: `${PREFIX}{{random 8}}`,
        provider: { type: "sql-database", inputs: { client: "mysql2", host: "127.0.0.1", port: r.port, database: myDb, username: "root", password: "" } },
      });
      assert.equal(c.status, 200, c.text);
      r.goSilent();
      const started = Date.now();
      const l = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "mysql-gone" });
      const took = Date.now() - started;
      assert.equal(l.status, 400, l.text);
      assert.match(l.body.message, /Could not connect to mysql2 at 127\.0\.0\.1:\d+ .*no answer within 1s/);
      // The connect timeout is 1s; the clean-up of a user that was never made waited for it a second time.
      assert.ok(took < 1800, `answered after ${took}ms`);
    } finally {
      await r.close();
      await withMy(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${myDb}`);
        const [users] = await c.query("SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE ?", [`${PREFIX}%`]);
        for (const u of users as { user: string; host: string }[]) await c.query("DROP USER ?@?", [u.user, u.host]);
      });
    }
  });
});
