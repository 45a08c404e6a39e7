import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";

/**
 * The sweeper against a real `kms server` and a real PostgreSQL: leases whose revocation keeps failing at a
 * slow target (a database that is gone, firewalled, or whose statement hangs) must not hold back the
 * revocation of every other expired lease on the server.
 */

const run = randomBytes(3).toString("hex");
const PREFIX = `ks${run}_`;
const targetDb = `kmssweep_${run}`;
const SWEEP_MS = 300;

const withPg = async <T>(database: string, f: (c: pg.Client) => Promise<T>) => {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await c.connect();
  try { return await f(c); } finally { await c.end(); }
};
const roleExists = (name: string) => withPg("postgres", async (c) => (await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount === 1);

describe("the lease sweeper with failing targets", () => {
  let s: TestServer;
  const projectSlug = `sweep-${run}`;
  const where = { projectSlug, environmentSlug: "dev" };
  const call = (method: string, path: string, body?: unknown) => api(s.address, method, path, { token: s.adminToken, body });
  const query = `?${new URLSearchParams(where)}`;
  let ready = false;

  before(async () => {
    s = await startServer({ env: { KMS_LEASE_SWEEP_INTERVAL: `${SWEEP_MS}ms`, KMS_MIN_LEASE_TTL: "1s" } });
    const p = await call("POST", "/api/v1/projects", { projectName: "Sweeper", slug: projectSlug });
    assert.equal(p.status, 200, p.text);
  });
  after(async () => {
    await s?.cleanup();
    if (!ready) return;
    await withPg("postgres", async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${targetDb} WITH (FORCE)`);
      for (const r of (await c.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`${PREFIX}%`])).rows) await c.query(`DROP ROLE "${r.rolname}"`);
    });
  });

  test("leases that keep failing at a slow target are retried after the others, which are revoked on time", async (t) => {
    if (!(await needService(t, "postgres"))) return;
    await withPg("postgres", (c) => c.query(`CREATE DATABASE ${targetDb}`));
    ready = true;
    const provider = (database: string, revocationStatement: string) => ({
      type: "sql-database",
      inputs: {
        client: "postgres", host: "127.0.0.1", port: 5432, database, username: "postgres", password: "unused-with-trust-auth",
        creationStatement: `CREATE ROLE "{{username}}" WITH LOGIN PASSWORD '{{password}}'`, revocationStatement,
      },
    });
    // Each revocation attempt takes a second and then fails: a stand-in for a target that does not answer.
    const stuck = await call("POST", "/api/v1/dynamic-secrets", {
      ...where, name: "stuck", defaultTTL: "1s", usernameTemplate: `${PREFIX}{{randomUsername}}`,
      provider: provider("postgres", `SELECT pg_sleep(1); DROP ROLE "kms_no_such_role_${run}"`),
    });
    assert.equal(stuck.status, 200, stuck.text);
    const healthy = await call("POST", "/api/v1/dynamic-secrets", {
      ...where, name: "healthy", defaultTTL: "1s", usernameTemplate: `${PREFIX}{{randomUsername}}`,
      provider: provider(targetDb, `DROP ROLE "{{username}}"`),
    });
    assert.equal(healthy.status, 200, healthy.text);

    for (let i = 0; i < 5; i++) assert.equal((await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "stuck" })).status, 200);
    const failedAll = Date.now() + 20_000;
    for (;;) {
      const leases = (await call("GET", `/api/v1/dynamic-secrets/stuck/leases${query}`)).body.leases as { status: string | null }[];
      if (leases.length === 5 && leases.every((l) => l.status === "FailedDeletion")) break;
      assert.ok(Date.now() < failedAll, "the stuck leases were all tried once");
      await new Promise((r) => setTimeout(r, 100));
    }

    // A sweep retrying the five stuck leases first takes five seconds; the healthy lease must not wait for it.
    const l = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "healthy" });
    assert.equal(l.status, 200, l.text);
    const expireAt = Date.parse(l.body.lease.expireAt);
    const user = l.body.data.DB_USERNAME as string;
    while (await roleExists(user)) {
      assert.ok(Date.now() - expireAt < 10_000, "revoked at all");
      await new Promise((r) => setTimeout(r, 50));
    }
    const late = Date.now() - expireAt;
    // One sweep interval, at most one attempt at the stuck target already under way (1 s), and the revocation.
    assert.ok(late < SWEEP_MS + 1000 + 700, `revoked ${late}ms after expiry`);

    // The stuck ones are still retried: they stay, marked, until the statement is fixed or they are forced away.
    const stuckLeases = (await call("GET", `/api/v1/dynamic-secrets/stuck/leases${query}`)).body.leases as { status: string | null }[];
    assert.equal(stuckLeases.length, 5);
    const forced = await call("DELETE", "/api/v1/dynamic-secrets/stuck", { ...where, isForced: true });
    assert.equal(forced.status, 200, forced.text);
  });

  test("a revocation that fails inside the server says why in statusDetails and in the sweeper's warning", async (t) => {
    if (!(await needService(t, "postgres"))) return;
    if (!ready) {
      await withPg("postgres", (c) => c.query(`CREATE DATABASE ${targetDb}`));
      ready = true;
    }
    const c = await call("POST", "/api/v1/dynamic-secrets", {
      ...where, name: "garbled", defaultTTL: "10m", usernameTemplate: `${PREFIX}{{randomUsername}}`,
      provider: {
        type: "sql-database",
        inputs: {
          client: "postgres", host: "127.0.0.1", port: 5432, database: targetDb, username: "postgres", password: "unused-with-trust-auth",
          creationStatement: `CREATE ROLE "{{username}}" WITH LOGIN PASSWORD '{{password}}'`, revocationStatement: `DROP ROLE "{{username}}"`,
        },
      },
    });
    assert.equal(c.status, 200, c.text);
    const a = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "garbled" });
    const b = await call("POST", "/api/v1/dynamic-secrets/leases", { ...where, dynamicSecretName: "garbled" });
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    // Lease a gets lease b's sealed credentials (which are bound to b and do not open for a), and expires.
    await s.stop();
    const db = new Database(join(s.dataDir, "kms.sqlite"), { fileMustExist: true });
    try {
      const sealedB = (db.prepare("SELECT encrypted_data FROM dynamic_secret_leases WHERE id = ?").get(b.body.lease.id) as { encrypted_data: string }).encrypted_data;
      db.prepare("UPDATE dynamic_secret_leases SET encrypted_data = ?, expire_at = ? WHERE id = ?").run(sealedB, new Date(Date.now() - 1000).toISOString(), a.body.lease.id);
    } finally {
      db.close();
    }
    await s.restart();
    const until = Date.now() + 10_000;
    let lease: { status: string | null; statusDetails: string | null } | undefined;
    for (;;) {
      const leases = (await call("GET", `/api/v1/dynamic-secrets/garbled/leases${query}`)).body.leases as { id: string; status: string | null; statusDetails: string | null }[];
      lease = leases.find((l) => l.id === a.body.lease.id);
      if (lease?.status === "FailedDeletion") break;
      assert.ok(Date.now() < until, "the sweeper tried the lease");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(lease!.statusDetails ?? "", /stored .*do not decrypt.*ciphertext failed authentication/);
    const warning = s.output().split("\n").find((l) => l.includes("could not revoke an expired lease") && l.includes(a.body.lease.id));
    assert.match(warning ?? "", /ciphertext failed authentication/, "the warning says why");
    assert.doesNotMatch(s.output(), new RegExp(b.body.data.DB_PASSWORD), "no credential in the log");
    const forced = await call("DELETE", "/api/v1/dynamic-secrets/garbled", { ...where, isForced: true });
    assert.equal(forced.status, 200, forced.text);
  });
});
