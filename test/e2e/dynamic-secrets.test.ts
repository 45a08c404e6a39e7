import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { needService, type SERVICES } from "../helpers/services.js";

/**
 * One contract every dynamic-secret provider runs against a real server process and its real database
 * (STYLE.md rule 16): leases whose credentials work, stop working after revoke and after expiry through the
 * sweeper, renewal within max TTL, failed revocations kept and retried, and bad settings refused.
 */

const run = randomBytes(3).toString("hex");
const PREFIX = `kt${run}_`;
const SWEEP_MS = 300;

type LeaseData = { DB_USERNAME: string; DB_PASSWORD: string };

interface Target {
  service: keyof typeof SERVICES;
  /** The provider object of a create request; `revocationStatement` overrides the working one. */
  provider(opts?: { revocationStatement?: string }): { type: string; inputs: Record<string, unknown> };
  /** Settings that cannot work, with the message they must give. */
  bad: { name: string; inputs: Record<string, unknown>; message: RegExp }[];
  /** Logs in with the lease credentials and does what the statements grant; throws otherwise. */
  use(data: LeaseData): Promise<void>;
  /** A revocation statement that fails at the target. */
  failingRevocation: string;
  /** Checks a renewal reached the target (where the target records expiry). */
  checkExpiry?(data: LeaseData, expireAt: string): Promise<void>;
  setup(): Promise<void>;
  cleanup(): Promise<void>;
}

// --- PostgreSQL ------------------------------------------------------------------------------------------
const pgAdmin = (database = "postgres") => new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
const withPg = async <T>(database: string, f: (c: pg.Client) => Promise<T>) => {
  const c = pgAdmin(database);
  await c.connect();
  try { return await f(c); } finally { await c.end(); }
};
/**
 * pg_hba here trusts 127.0.0.1, so PostgreSQL would accept any password: we also check the role's SCRAM
 * verifier against the leased password, which proves the password the lease returned is the one set.
 */
const scramMatches = (verifier: string, password: string) => {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):/.exec(verifier);
  if (!m) return false;
  const salted = pbkdf2Sync(password, Buffer.from(m[2]!, "base64"), Number(m[1]), 32, "sha256");
  const storedKey = createHash("sha256").update(createHmac("sha256", salted).update("Client Key").digest()).digest("base64");
  return storedKey === m[3];
};
const pgDb = `kmsdyn_${run}`;
const postgres: Target = {
  service: "postgres",
  provider: (o = {}) => ({
    type: "sql-database",
    inputs: {
      client: "postgres", host: "127.0.0.1", port: 5432, database: pgDb, username: "postgres", password: `adm1n-${run}-pw`,
      creationStatement: `CREATE ROLE "{{username}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';\nGRANT SELECT ON t TO "{{username}}";`,
      revocationStatement: o.revocationStatement ?? `REVOKE ALL ON t FROM "{{username}}";\nDROP ROLE "{{username}}";`,
      // renewStatement left out: the default (ALTER ROLE ... VALID UNTIL) must apply.
    },
  }),
  bad: [
    { name: "unreachable port", inputs: { client: "postgres", host: "127.0.0.1", port: 1, database: pgDb, username: "postgres", password: "x" }, message: /postgres at 127\.0\.0\.1:1 .*connection refused/ },
    // Trust authentication accepts any password here, so the wrong credential is an admin role that does not exist.
    { name: "unknown admin user", inputs: { client: "postgres", host: "127.0.0.1", port: 5432, database: pgDb, username: "kms_no_such_admin", password: "x" }, message: /postgres at 127\.0\.0\.1:5432 .*role "kms_no_such_admin" does not exist/ },
  ],
  use: async (d) => {
    const c = new pg.Client({ host: "127.0.0.1", port: 5432, database: pgDb, user: d.DB_USERNAME, password: d.DB_PASSWORD });
    await c.connect();
    try {
      assert.equal((await c.query("SELECT v FROM t")).rows[0].v, "hello");
      await assert.rejects(c.query("INSERT INTO t VALUES ('x')"), /permission denied/, "only SELECT was granted");
    } finally { await c.end(); }
    const verifier = await withPg("postgres", async (a) => (await a.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [d.DB_USERNAME])).rows[0]?.rolpassword);
    assert.ok(verifier && scramMatches(verifier, d.DB_PASSWORD), "the role's password is the leased one");
  },
  failingRevocation: `DROP TABLE kms_no_such_table_${run}`,
  checkExpiry: async (d, expireAt) => {
    const until = await withPg("postgres", async (a) => (await a.query("SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", [d.DB_USERNAME])).rows[0]?.rolvaliduntil as Date);
    assert.equal(until.toISOString(), expireAt, "VALID UNTIL follows the lease");
  },
  setup: async () => {
    await withPg("postgres", (a) => a.query(`CREATE DATABASE ${pgDb}`));
    await withPg(pgDb, (a) => a.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('hello')"));
  },
  cleanup: async () => {
    await withPg("postgres", async (a) => {
      await a.query(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`);
      for (const r of (await a.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`${PREFIX}%`])).rows) await a.query(`DROP ROLE "${r.rolname}"`);
    });
  },
};

// --- MariaDB (client mysql2) -------------------------------------------------------------------------------
const myDb = `kmsdyn_${run}`;
const withMy = async <T>(f: (c: mysql.Connection) => Promise<T>) => {
  const c = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", password: "" });
  try { return await f(c); } finally { await c.end(); }
};
const mariadb: Target = {
  service: "mariadb",
  // Statements left out: the mysql2 defaults (GRANT ALL on the database) must apply.
  provider: (o = {}) => ({
    type: "sql-database",
    inputs: { client: "mysql2", host: "127.0.0.1", port: 3306, database: myDb, username: "root", password: "", ...(o.revocationStatement ? { revocationStatement: o.revocationStatement } : {}) },
  }),
  bad: [
    { name: "unreachable port", inputs: { client: "mysql2", host: "127.0.0.1", port: 1, database: myDb, username: "root", password: "" }, message: /mysql2 at 127\.0\.0\.1:1 .*connection refused/ },
    { name: "wrong admin password", inputs: { client: "mysql2", host: "127.0.0.1", port: 3306, database: myDb, username: "root", password: "wrong-password" }, message: /mysql2 at 127\.0\.0\.1:3306 .*Access denied for user 'root'/ },
  ],
  use: async (d) => {
    const c = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: d.DB_USERNAME, password: d.DB_PASSWORD, database: myDb });
    try {
      const [rows] = await c.query("SELECT v FROM t");
      assert.equal((rows as { v: string }[])[0]!.v, "hello");
      await c.query("INSERT INTO t VALUES ('x')");
      await assert.rejects(c.query("SELECT user FROM mysql.user"), /denied/, "nothing outside the database was granted");
    } finally { await c.end(); }
  },
  failingRevocation: `DROP TABLE kms_no_such_table_${run}`,
  setup: () => withMy(async (c) => {
    await c.query(`CREATE DATABASE ${myDb}`);
    await c.query(`CREATE TABLE ${myDb}.t (v varchar(20))`);
    await c.query(`INSERT INTO ${myDb}.t VALUES ('hello')`);
  }),
  cleanup: () => withMy(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${myDb}`);
    const [users] = await c.query("SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE ?", [`${PREFIX}%`]);
    for (const u of users as { user: string; host: string }[]) await c.query("DROP USER ?@?", [u.user, u.host]);
  }),
};

// --- Redis -----------------------------------------------------------------------------------------------
const redisAdmin = { user: `${PREFIX}admin`, password: `adm1n-${run}-${randomBytes(8).toString("hex")}` };
const withRedis = async <T>(f: (r: Redis) => Promise<T>) => {
  const r = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
  r.on("error", () => {});
  await r.connect();
  try { return await f(r); } finally { r.disconnect(); }
};
const redis: Target = {
  service: "redis",
  provider: (o = {}) => ({
    type: "redis",
    inputs: {
      host: "127.0.0.1", port: 6379, username: redisAdmin.user, password: redisAdmin.password,
      creationStatement: `ACL SETUSER {{username}} on >{{password}} ~${PREFIX}:* +get +set +ping`,
      ...(o.revocationStatement ? { revocationStatement: o.revocationStatement } : {}),
    },
  }),
  bad: [
    { name: "unreachable port", inputs: { host: "127.0.0.1", port: 1, username: "default", creationStatement: "ACL SETUSER {{username}} on >{{password}} ~* +@all", revocationStatement: "ACL DELUSER {{username}}" }, message: /redis at 127\.0\.0\.1:1 .*connection refused/ },
    { name: "wrong admin password", inputs: { host: "127.0.0.1", port: 6379, username: redisAdmin.user, password: "wrong-password", creationStatement: "ACL SETUSER {{username}} on >{{password}} ~* +@all", revocationStatement: "ACL DELUSER {{username}}" }, message: /redis at 127\.0\.0\.1:6379 as 'kt[0-9a-f]+_admin': WRONGPASS/ },
  ],
  use: async (d) => {
    const r = new Redis({ host: "127.0.0.1", port: 6379, username: d.DB_USERNAME, password: d.DB_PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    r.on("error", () => {});
    try {
      await r.connect();
      await r.set(`${PREFIX}:k`, "hello");
      assert.equal(await r.get(`${PREFIX}:k`), "hello");
      await assert.rejects(r.get("some-other-key"), /NOPERM/, "only the granted key pattern");
    } finally { r.disconnect(); }
  },
  failingRevocation: "ACL NO-SUCH-SUBCOMMAND {{username}}",
  setup: () => withRedis(async (r) => {
    await r.call("ACL", "SETUSER", redisAdmin.user, "on", `>${redisAdmin.password}`, "~*", "&*", "+@all");
  }),
  cleanup: () => withRedis(async (r) => {
    for (const u of (await r.call("ACL", "USERS")) as string[]) if (u.startsWith(PREFIX)) await r.call("ACL", "DELUSER", u);
    const keys = await r.keys(`${PREFIX}:*`);
    if (keys.length) await r.del(...keys);
  }),
};

// --- the contract -----------------------------------------------------------------------------------------
describe("dynamic secrets against real PostgreSQL, MariaDB and Redis", () => {
  let s: TestServer;
  const projectSlug = `dyn-${run}`;
  const where = { projectSlug, environmentSlug: "dev" };
  const call = (method: string, path: string, body?: unknown) => api(s.address, method, path, { token: s.adminToken, body });
  const query = (extra: Record<string, string> = {}) => `?${new URLSearchParams({ ...where, ...extra })}`;

  before(async () => {
    // A short sweep interval and a 1s TTL floor let the sweeper be watched within seconds (KMS_MIN_LEASE_TTL is for tests only).
    s = await startServer({ env: { KMS_LEASE_SWEEP_INTERVAL: `${SWEEP_MS}ms`, KMS_MIN_LEASE_TTL: "1s" } });
    const p = await call("POST", "/api/v1/projects", { projectName: "Dynamic secrets", slug: projectSlug });
    assert.equal(p.status, 200, p.text);
  });
  after(async () => {
    await s?.cleanup();
  });

  const contract = (name: string, target: Target) => describe(name, () => {
    let ready: Promise<void> | undefined;
    const ok = async (t: TestContext) => {
      if (!(await needService(t, target.service))) return false;
      ready ??= target.setup();
      await ready;
      return true;
    };
    after(async () => { if (ready) await target.cleanup(); });

    const createSecret = async (dsName: string, extra: Record<string, unknown> = {}, provider = target.provider()) => {
      const r = await call("POST", "/api/v1/dynamic-secrets", { ...where, name: dsName, provider, defaultTTL: "10m", maxTTL: "1h", usernameTemplate: `${PREFIX}{{randomUsername}}`, ...extra });
      assert.equal(r.status, 200, r.text);
      return r.body.dynamicSecret;
    };
    const lease = async (dsName: string, ttl?: string) => {
      const r = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: dsName, ...(ttl ? { ttl } : {}) });
      assert.equal(r.status, 200, r.text);
      assert.match(r.body.data.DB_USERNAME, new RegExp(`^${PREFIX}[A-Za-z0-9]{32}$`));
      return r.body as { lease: { id: string; expireAt: string; createdAt: string }; data: LeaseData };
    };
    const unusable = async (data: LeaseData) => assert.rejects(target.use(data), "the revoked credentials no longer work");
    const leasesOf = async (dsName: string) => (await call("GET", `/api/v1/dynamic-secrets/${dsName}/leases${query()}`)).body.leases as { id: string; status: string | null; statusDetails: string | null }[];
    const waitFor = async (what: string, deadlineMs: number, check: () => Promise<boolean>) => {
      const until = Date.now() + deadlineMs;
      while (!(await check())) {
        if (Date.now() > until) assert.fail(`timed out waiting for: ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    test("bad provider settings are refused with 400 naming host:port, and nothing is stored", async (t) => {
      if (!(await ok(t))) return;
      for (const b of target.bad) {
        const r = await call("POST", "/api/v1/dynamic-secrets", { ...where, name: `bad-${target.service}`, provider: { type: target.provider().type, inputs: b.inputs }, defaultTTL: "1h" });
        assert.equal(r.status, 400, `${b.name}: ${r.text}`);
        assert.match(r.body.message, b.message, b.name);
        assert.doesNotMatch(r.body.message, /wrong-password|adm1n-/, "the admin password is never echoed");
      }
      const list = await call("GET", `/api/v1/dynamic-secrets${query()}`);
      assert.ok(!list.body.dynamicSecrets.some((d: { name: string }) => d.name === `bad-${target.service}`));
    });

    test("a lease's credentials log in and can do what the statements grant; after revoke they cannot", async (t) => {
      if (!(await ok(t))) return;
      await createSecret(`${target.service}-rw`);
      const l = await lease(`${target.service}-rw`);
      await target.use(l.data);
      const d = await call("DELETE", `/api/v1/dynamic-secrets/leases/${l.lease.id}`, where);
      assert.equal(d.status, 200, d.text);
      assert.equal(d.body.lease.id, l.lease.id);
      await unusable(l.data);
      assert.equal((await call("GET", `/api/v1/dynamic-secrets/leases/${l.lease.id}${query()}`)).status, 404);
      assert.equal((await call("DELETE", `/api/v1/dynamic-secrets/leases/${l.lease.id}`, where)).status, 404);
    });

    test("renewal extends expireAt, the same credentials keep working, and renewal past maxTTL is refused", async (t) => {
      if (!(await ok(t))) return;
      const l = await lease(`${target.service}-rw`, "5m");
      const r = await call("POST", `/api/v1/dynamic-secrets/leases/${l.lease.id}/renew`, { ...where, ttl: "30m" });
      assert.equal(r.status, 200, r.text);
      assert.ok(Date.parse(r.body.lease.expireAt) > Date.parse(l.lease.expireAt) + 20 * 60_000, "about 25 minutes later");
      assert.equal(r.body.lease.expiresAt, r.body.lease.expireAt);
      await target.checkExpiry?.(l.data, r.body.lease.expireAt);
      await target.use(l.data);
      const past = await call("POST", `/api/v1/dynamic-secrets/leases/${l.lease.id}/renew`, { ...where, ttl: "1h" });
      assert.equal(past.status, 400, past.text);
      assert.match(past.body.message, /past its max TTL/);
      const g = await call("GET", `/api/v1/dynamic-secrets/leases/${l.lease.id}${query()}`);
      assert.equal(g.body.lease.expireAt, r.body.lease.expireAt, "a refused renewal changes nothing");
      assert.equal((await call("DELETE", `/api/v1/dynamic-secrets/leases/${l.lease.id}`, where)).status, 200);
    });

    test("the sweeper revokes an expired lease although nobody asks", async (t) => {
      if (!(await ok(t))) return;
      const l = await lease(`${target.service}-rw`, "2s");
      await target.use(l.data);
      const expireAt = Date.parse(l.lease.expireAt);
      await waitFor("the sweeper to revoke the lease", 2000 + SWEEP_MS + 5000, async () => !(await leasesOf(`${target.service}-rw`)).some((x) => x.id === l.lease.id));
      // At most one sweep interval late, plus the sweep itself and this poll.
      assert.ok(Date.now() - expireAt < SWEEP_MS + 1500, `revoked ${Date.now() - expireAt}ms after expiry`);
      await unusable(l.data);
      assert.equal((await call("GET", `/api/v1/dynamic-secrets/leases/${l.lease.id}${query()}`)).status, 404);
      // The audit log names the sweeper as the one who revoked it.
      const projectId = (await call("GET", `/api/v1/projects/slug/${projectSlug}`)).body.id;
      const log = await call("GET", `/api/v1/projects/${projectId}/audit-logs?limit=500`);
      const event = log.body.auditLogs.find((e: any) => e.action === "delete-dynamic-secret-lease" && e.resource.id === l.lease.id);
      assert.deepEqual(event?.actor, { type: "system", id: "lease-sweeper" });
    });

    test("a failing revocation keeps the lease, marked FailedDeletion, and the sweeper retries it", async (t) => {
      if (!(await ok(t))) return;
      const name = `${target.service}-broken`;
      await createSecret(name, {}, target.provider({ revocationStatement: target.failingRevocation }));
      const live = await lease(name);
      const refused = await call("DELETE", `/api/v1/dynamic-secrets/leases/${live.lease.id}`, where);
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.message, /Failed to revoke lease user/);
      const kept = await call("GET", `/api/v1/dynamic-secrets/leases/${live.lease.id}${query()}`);
      assert.equal(kept.status, 200);
      assert.equal(kept.body.lease.status, "FailedDeletion");
      await target.use(live.data);

      const expiring = await lease(name, "2s");
      await waitFor("the sweeper to mark the expired lease", 2000 + SWEEP_MS + 5000, async () =>
        (await leasesOf(name)).some((x) => x.id === expiring.lease.id && x.status === "FailedDeletion" && !!x.statusDetails));
      await target.use(expiring.data);

      // Repair the statement: the next sweep revokes the expired lease.
      const fix = await call("PATCH", `/api/v1/dynamic-secrets/${name}`, { ...where, data: { inputs: { revocationStatement: target.provider().inputs.revocationStatement ?? "" } } });
      assert.equal(fix.status, 200, fix.text);
      await waitFor("the sweeper to retry", SWEEP_MS * 2 + 5000, async () => !(await leasesOf(name)).some((x) => x.id === expiring.lease.id));
      await unusable(expiring.data);
      assert.equal((await call("DELETE", `/api/v1/dynamic-secrets/leases/${live.lease.id}`, where)).status, 200);
      await unusable(live.data);
    });

    test("deleting a dynamic secret revokes its leases first; a failing revocation blocks it unless isForced", async (t) => {
      if (!(await ok(t))) return;
      const l = await lease(`${target.service}-rw`);
      const d = await call("DELETE", `/api/v1/dynamic-secrets/${target.service}-rw`, where);
      assert.equal(d.status, 200, d.text);
      assert.equal(d.body.dynamicSecret.inputs, undefined);
      await unusable(l.data);
      // Each lease revoked on the way is in the audit log, as a revoke through its own route would be.
      const projectId = (await call("GET", `/api/v1/projects/slug/${projectSlug}`)).body.id;
      const log = (await call("GET", `/api/v1/projects/${projectId}/audit-logs?limit=500`)).body.auditLogs as { action: string; resource: { id: string }; metadata: Record<string, unknown> }[];
      assert.deepEqual(log.find((e) => e.action === "delete-dynamic-secret-lease" && e.resource.id === l.lease.id)?.metadata,
        { dynamicSecretId: d.body.dynamicSecret.id, externalEntityId: l.data.DB_USERNAME, isForced: false, reason: "dynamic-secret-deleted" });
      assert.ok(log.some((e) => e.action === "delete-dynamic-secret" && e.resource.id === d.body.dynamicSecret.id));

      const name = `${target.service}-stuck`;
      await createSecret(name, {}, target.provider({ revocationStatement: target.failingRevocation }));
      await lease(name);
      const refused = await call("DELETE", `/api/v1/dynamic-secrets/${name}`, where);
      assert.equal(refused.status, 400, refused.text);
      assert.equal((await call("GET", `/api/v1/dynamic-secrets/${name}${query()}`)).status, 200, "still there");
      const forced = await call("DELETE", `/api/v1/dynamic-secrets/${name}`, { ...where, isForced: true });
      assert.equal(forced.status, 200, forced.text);
      assert.equal((await call("GET", `/api/v1/dynamic-secrets/${name}${query()}`)).status, 404);
      await call("DELETE", `/api/v1/dynamic-secrets/${target.service}-broken`, { ...where, isForced: true });
    });
  });

  contract("PostgreSQL (sql-database, client postgres)", postgres);
  contract("MariaDB (sql-database, client mysql2)", mariadb);
  contract("Redis (ACL users)", redis);
});
