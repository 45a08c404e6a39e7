import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createPgDatabase } from "../helpers/postgres.js";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";

/**
 * Deleting a project, an environment or a folder (with its sub-folders) deletes the dynamic secrets inside
 * as deleting each one does: every lease is revoked at the target first. A revocation that fails refuses
 * the whole delete and leaves everything in place but the leases already revoked. Real `kms server`
 * processes, on SQLite and on PostgreSQL (whose delete locks rows against concurrent leases), lease real
 * PostgreSQL roles.
 */

const run = randomBytes(3).toString("hex");
const PREFIX = `kd${run}_`;
const targetDb = `kmsdel_${run}`;

type LeaseData = { DB_USERNAME: string; DB_PASSWORD: string };
type Lease = { lease: { id: string }; data: LeaseData };

const withPg = async <T>(database: string, f: (c: pg.Client) => Promise<T>) => {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await c.connect();
  try { return await f(c); } finally { await c.end(); }
};
const roleExists = async (name: string) => withPg("postgres", async (c) => (await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount === 1);
/** Logs in as the lease's role and reads what it was granted. */
const use = async (d: LeaseData) => {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, database: targetDb, user: d.DB_USERNAME, password: d.DB_PASSWORD });
  await c.connect();
  try { assert.equal((await c.query("SELECT v FROM t")).rows[0].v, "hello"); } finally { await c.end(); }
};
const gone = async (d: LeaseData) => {
  assert.equal(await roleExists(d.DB_USERNAME), false, `role ${d.DB_USERNAME} was dropped at the target`);
  await assert.rejects(use(d), /does not exist/, "the revoked credentials cannot log in");
};
const live = async (d: LeaseData) => {
  assert.equal(await roleExists(d.DB_USERNAME), true, `role ${d.DB_USERNAME} still exists`);
  await use(d);
};

const provider = (revocationStatement = `REVOKE ALL ON t FROM "{{username}}";\nDROP ROLE "{{username}}";`) => ({
  type: "sql-database",
  inputs: {
    client: "postgres", host: "127.0.0.1", port: 5432, database: targetDb, username: "postgres", password: "unused-with-trust-auth",
    creationStatement: `CREATE ROLE "{{username}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';\nGRANT SELECT ON t TO "{{username}}";`,
    revocationStatement,
  },
});
const FAILING_REVOCATION = `DROP TABLE kms_no_such_table_${run}`;

const backends = [
  { name: "on SQLite", postgres: false },
  { name: "on PostgreSQL", postgres: true },
];

describe("deleting a project, environment or folder that holds dynamic secrets", () => {
  let targetReady: Promise<boolean> | undefined;
  const needTarget = async (t: TestContext) => {
    if (!(await needService(t, "postgres"))) return false;
    targetReady ??= (async () => {
      await withPg("postgres", (c) => c.query(`CREATE DATABASE ${targetDb}`));
      await withPg(targetDb, (c) => c.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('hello')"));
      return true;
    })();
    return targetReady;
  };
  after(async () => {
    if (!targetReady) return;
    await withPg("postgres", async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${targetDb} WITH (FORCE)`);
      // A forced delete leaves the role of a lease that could not be revoked behind, as documented.
      for (const r of (await c.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`${PREFIX}%`])).rows) await c.query(`DROP ROLE "${r.rolname}"`);
    });
  });

  for (const backend of backends) describe(backend.name, () => {
    let s: TestServer | undefined;
    let store: ReturnType<typeof createPgDatabase> | undefined;
    let n = 0;
    const call = (method: string, path: string, body?: unknown, token = s!.adminToken) => api(s!.address, method, path, { token, body });
    const ok = async <T = any>(p: Promise<{ status: number; text: string; body: T }>) => {
      const r = await p;
      assert.equal(r.status, 200, r.text);
      return r.body;
    };

    const start = async (t: TestContext) => {
      if (!(await needTarget(t))) return false;
      if (!s) {
        store = backend.postgres ? createPgDatabase() : undefined;
        s = await startServer({ databaseUrl: store?.url });
      }
      return true;
    };
    after(async () => {
      await s?.cleanup();
      store?.drop();
    });

    const project = async () => {
      const slug = `del-${run}-${backend.postgres ? "pg" : "sl"}-${++n}`;
      const p = await ok(call("POST", "/api/v1/projects", { projectName: slug, slug }));
      return { id: p.project.id as string, slug, envId: (env: string) => p.project.environments.find((e: { slug: string }) => e.slug === env).id as string };
    };
    const folder = (projectId: string, environment: string, path: string, name: string) =>
      ok(call("POST", "/api/v1/folders", { workspaceId: projectId, environment, path, name }));
    const dynamicSecret = (projectSlug: string, environmentSlug: string, path: string, name: string, revocationStatement?: string) =>
      ok(call("POST", "/api/v1/dynamic-secrets", { projectSlug, environmentSlug, path, name, defaultTTL: "1h", usernameTemplate: `${PREFIX}{{randomUsername}}`, provider: provider(revocationStatement) }));
    const lease = async (projectSlug: string, environmentSlug: string, path: string, name: string): Promise<Lease> => {
      const l = await ok<Lease>(call("POST", "/api/v1/dynamic-secrets/leases", { projectSlug, environmentSlug, path, dynamicSecretName: name }));
      await live(l.data);
      return l;
    };
    const getDynamicSecret = (projectSlug: string, environmentSlug: string, path: string, name: string) =>
      call("GET", `/api/v1/dynamic-secrets/${name}?${new URLSearchParams({ projectSlug, environmentSlug, path })}`);
    const leasesOf = async (projectSlug: string, environmentSlug: string, path: string, name: string) =>
      (await ok(call("GET", `/api/v1/dynamic-secrets/${name}/leases?${new URLSearchParams({ projectSlug, environmentSlug, path })}`))).leases as { id: string; status: string | null; statusDetails: string | null }[];
    const auditOf = async (projectId: string) =>
      (await ok(call("GET", `/api/v1/organization/audit-logs?limit=500`))).auditLogs.filter((e: { projectId: string }) => e.projectId === projectId) as
        { action: string; resource: { id: string }; metadata: Record<string, unknown> }[];
    const deleteFolder = (projectId: string, environment: string, path: string, name: string, token?: string) =>
      call("DELETE", `/api/v1/folders/${name}`, { workspaceId: projectId, environment, path }, token);

    test("a folder delete revokes the leases of every dynamic secret in it and its sub-folders, then deletes it all", async (t) => {
      if (!(await start(t))) return;
      const p = await project();
      await folder(p.id, "dev", "/", "app");
      await folder(p.id, "dev", "/app", "db");
      await ok(call("POST", "/api/v3/secrets/raw/STATIC", { workspaceId: p.id, environment: "dev", secretPath: "/app/db", secretValue: "x" }));
      await dynamicSecret(p.slug, "dev", "/app", "top");
      await dynamicSecret(p.slug, "dev", "/app/db", "deep");
      await dynamicSecret(p.slug, "dev", "/", "outside");
      const leases = [await lease(p.slug, "dev", "/app", "top"), await lease(p.slug, "dev", "/app", "top"), await lease(p.slug, "dev", "/app/db", "deep")];
      const outside = await lease(p.slug, "dev", "/", "outside");

      const del = await deleteFolder(p.id, "dev", "/", "app");
      assert.equal(del.status, 200, del.text);
      assert.equal(del.body.folder.path, "/app");
      for (const l of leases) await gone(l.data);
      await live(outside.data);
      assert.equal((await getDynamicSecret(p.slug, "dev", "/app", "top")).status, 404);
      assert.equal((await getDynamicSecret(p.slug, "dev", "/app/db", "deep")).status, 404);
      assert.equal((await getDynamicSecret(p.slug, "dev", "/", "outside")).status, 200, "a dynamic secret outside the folder stays");
      const folders = await ok(call("GET", `/api/v1/folders?${new URLSearchParams({ workspaceId: p.id, environment: "dev", path: "/", recursive: "true" })}`));
      assert.deepEqual(folders.folders, []);

      // Each revocation and each dynamic secret is in the audit log, as deleting the dynamic secret records them.
      const log = await auditOf(p.id);
      for (const l of leases) {
        const e = log.find((x) => x.action === "delete-dynamic-secret-lease" && x.resource.id === l.lease.id);
        assert.deepEqual({ reason: e?.metadata.reason, externalEntityId: e?.metadata.externalEntityId }, { reason: "folder-deleted", externalEntityId: l.data.DB_USERNAME });
      }
      assert.deepEqual(log.filter((x) => x.action === "delete-dynamic-secret").map((x) => [x.metadata.name, x.metadata.reason]).sort(), [["deep", "folder-deleted"], ["top", "folder-deleted"]]);
      assert.ok(log.some((x) => x.action === "delete-folder"));
    });

    test("a revocation that fails refuses the folder delete, names the dynamic secret and lease, and deletes nothing", async (t) => {
      if (!(await start(t))) return;
      const p = await project();
      await folder(p.id, "dev", "/", "app");
      await folder(p.id, "dev", "/app", "db");
      await ok(call("POST", "/api/v3/secrets/raw/STATIC", { workspaceId: p.id, environment: "dev", secretPath: "/app/db", secretValue: "kept" }));
      await dynamicSecret(p.slug, "dev", "/app", "fine");
      await dynamicSecret(p.slug, "dev", "/app/db", "stuck", FAILING_REVOCATION);
      const fine = await lease(p.slug, "dev", "/app", "fine");
      const stuck = await lease(p.slug, "dev", "/app/db", "stuck");

      const refused = await deleteFolder(p.id, "dev", "/", "app");
      assert.equal(refused.status, 400, refused.text);
      const message: string = refused.body.message;
      assert.match(message, /^Folder '\/app' in environment 'dev' was not deleted: 1 dynamic-secret lease\(s\) could not be revoked/);
      assert.ok(message.includes(`dynamic secret 'stuck' in '/app/db', lease ${stuck.lease.id}: Failed to revoke lease user '${stuck.data.DB_USERNAME}'`), message);
      assert.match(message, /The other 1 lease\(s\) in it were revoked and are gone; nothing else was deleted/);
      assert.match(message, /delete the dynamic secret\(s\) 'stuck' in '\/app\/db' first, with isForced=true/);
      assert.deepEqual(refused.body.details.failures.map((f: { dynamicSecret: string; path: string; leaseId: string }) => [f.dynamicSecret, f.path, f.leaseId]), [["stuck", "/app/db", stuck.lease.id]]);
      assert.doesNotMatch(refused.text, /unused-with-trust-auth/, "the admin password is never echoed");

      // The lease that was revoked is gone; everything else is still there.
      await gone(fine.data);
      await live(stuck.data);
      assert.deepEqual(await leasesOf(p.slug, "dev", "/app", "fine"), []);
      const kept = await leasesOf(p.slug, "dev", "/app/db", "stuck");
      assert.deepEqual(kept.map((l) => [l.id, l.status]), [[stuck.lease.id, "FailedDeletion"]]);
      assert.equal((await getDynamicSecret(p.slug, "dev", "/app", "fine")).status, 200);
      assert.equal((await getDynamicSecret(p.slug, "dev", "/app/db", "stuck")).status, 200);
      const folders = await ok(call("GET", `/api/v1/folders?${new URLSearchParams({ workspaceId: p.id, environment: "dev", path: "/", recursive: "true" })}`));
      assert.deepEqual(folders.folders.map((f: { path: string }) => f.path), ["/app", "/app/db"]);
      const secret = await ok(call("GET", `/api/v3/secrets/raw/STATIC?${new URLSearchParams({ workspaceId: p.id, environment: "dev", secretPath: "/app/db" })}`));
      assert.equal(secret.secret.secretValue, "kept");
      const log = await auditOf(p.id);
      assert.ok(log.some((x) => x.action === "delete-dynamic-secret-lease" && x.resource.id === fine.lease.id), "the revocation that happened is recorded");
      assert.ok(!log.some((x) => x.action === "delete-dynamic-secret" || x.action === "delete-folder"), "nothing else is recorded as deleted");

      // As the message says: force-delete the stuck dynamic secret, then the folder goes.
      await ok(call("DELETE", "/api/v1/dynamic-secrets/stuck", { projectSlug: p.slug, environmentSlug: "dev", path: "/app/db", isForced: true }));
      assert.equal((await deleteFolder(p.id, "dev", "/", "app")).status, 200);
      assert.equal((await getDynamicSecret(p.slug, "dev", "/app", "fine")).status, 404);
    });

    test("a project member may not delete a folder holding dynamic secrets: revoking leases needs admin", async (t) => {
      if (!(await start(t))) return;
      const p = await project();
      const c = await createUaIdentity(s!, `member-${p.slug}`);
      await ok(call("POST", `/api/v1/projects/${p.id}/memberships/identities/${c.identityId}`, { roles: [{ role: "member", isTemporary: false }] }));
      const member = await login(s!.address, c.clientId, c.clientSecret);
      await folder(p.id, "dev", "/", "app");
      await dynamicSecret(p.slug, "dev", "/app", "pg");
      const l = await lease(p.slug, "dev", "/app", "pg");
      const refused = await deleteFolder(p.id, "dev", "/", "app", member);
      assert.equal(refused.status, 403, refused.text);
      assert.match(refused.body.message, /Folder '\/app' in environment 'dev' holds 1 dynamic secret\(s\); deleting them needs the project role 'admin'/);
      await live(l.data);
      await folder(p.id, "dev", "/", "plain");
      assert.equal((await deleteFolder(p.id, "dev", "/", "plain", member)).status, 200, "a folder without dynamic secrets is a member's to delete");
      assert.equal((await deleteFolder(p.id, "dev", "/", "app")).status, 200);
      await gone(l.data);
    });

    test("an environment delete revokes every lease in it; a failing revocation refuses it and keeps everything", async (t) => {
      if (!(await start(t))) return;
      const p = await project();
      const qa = (await ok(call("POST", `/api/v1/projects/${p.id}/environments`, { name: "QA", slug: "qa" }))).environment.id as string;
      await folder(p.id, "qa", "/", "app");
      await dynamicSecret(p.slug, "qa", "/", "root-pg");
      await dynamicSecret(p.slug, "qa", "/app", "app-pg");
      await dynamicSecret(p.slug, "dev", "/", "other-env");
      const inQa = [await lease(p.slug, "qa", "/", "root-pg"), await lease(p.slug, "qa", "/app", "app-pg")];
      const inDev = await lease(p.slug, "dev", "/", "other-env");
      const del = await call("DELETE", `/api/v1/projects/${p.id}/environments/${qa}`);
      assert.equal(del.status, 200, del.text);
      for (const l of inQa) await gone(l.data);
      await live(inDev.data);
      assert.equal((await getDynamicSecret(p.slug, "qa", "/", "root-pg")).status, 404);
      const log = await auditOf(p.id);
      assert.deepEqual(log.filter((x) => x.action === "delete-dynamic-secret").map((x) => [x.metadata.name, x.metadata.reason]).sort(), [["app-pg", "environment-deleted"], ["root-pg", "environment-deleted"]]);

      const staging = p.envId("staging");
      await folder(p.id, "staging", "/", "app");
      await dynamicSecret(p.slug, "staging", "/app", "stuck", FAILING_REVOCATION);
      const stuck = await lease(p.slug, "staging", "/app", "stuck");
      const refused = await call("DELETE", `/api/v1/projects/${p.id}/environments/${staging}`);
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.message, /^Environment 'staging' was not deleted: 1 dynamic-secret lease\(s\) could not be revoked \(dynamic secret 'stuck' in '\/app', lease /);
      assert.match(refused.body.message, /\. Nothing was deleted\. Fix the target and retry/, "no other lease was there to revoke");
      await live(stuck.data);
      assert.equal((await call("GET", `/api/v1/projects/${p.id}/environments/${staging}`)).status, 200);
      assert.equal((await getDynamicSecret(p.slug, "staging", "/app", "stuck")).status, 200);
    });

    test("a project delete revokes every lease in it; a failing revocation refuses it and keeps everything", async (t) => {
      if (!(await start(t))) return;
      const p = await project();
      await folder(p.id, "prod", "/", "app");
      await dynamicSecret(p.slug, "dev", "/", "dev-pg");
      await dynamicSecret(p.slug, "prod", "/app", "prod-pg");
      await dynamicSecret(p.slug, "prod", "/app", "stuck", FAILING_REVOCATION);
      const fine = [await lease(p.slug, "dev", "/", "dev-pg"), await lease(p.slug, "prod", "/app", "prod-pg")];
      const stuck = await lease(p.slug, "prod", "/app", "stuck");

      const refused = await call("DELETE", `/api/v1/projects/${p.id}`);
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.message, new RegExp(`^Project '${p.slug}' was not deleted: 1 dynamic-secret lease\\(s\\) could not be revoked \\(dynamic secret 'stuck' in '/app', lease ${stuck.lease.id}: `));
      assert.match(refused.body.message, /The other 2 lease\(s\) in it were revoked and are gone; nothing else was deleted/);
      for (const l of fine) await gone(l.data);
      await live(stuck.data);
      assert.equal((await call("GET", `/api/v1/projects/${p.id}`)).status, 200, "the project is still there");
      for (const [env, path, name] of [["dev", "/", "dev-pg"], ["prod", "/app", "prod-pg"], ["prod", "/app", "stuck"]] as const)
        assert.equal((await getDynamicSecret(p.slug, env, path, name)).status, 200, `${name} is still there`);

      // Fixing the statement is the other way out the message offers: then the project goes, and the role with it.
      await ok(call("PATCH", "/api/v1/dynamic-secrets/stuck", { projectSlug: p.slug, environmentSlug: "prod", path: "/app", data: { inputs: { revocationStatement: provider().inputs.revocationStatement } } }));
      const fresh = await lease(p.slug, "dev", "/", "dev-pg");
      const del = await call("DELETE", `/api/v1/projects/${p.id}`);
      assert.equal(del.status, 200, del.text);
      assert.equal(del.body.project.id, p.id);
      await gone(stuck.data);
      await gone(fresh.data);
      assert.equal((await call("GET", `/api/v1/projects/${p.id}`)).status, 404);
      const log = (await ok(call("GET", `/api/v1/organization/audit-logs?limit=500`))).auditLogs as { action: string; resource: { id: string }; metadata: Record<string, unknown> }[];
      for (const l of [stuck, fresh])
        assert.equal(log.find((x) => x.action === "delete-dynamic-secret-lease" && x.resource.id === l.lease.id)?.metadata.reason, "project-deleted");
      assert.ok(log.some((x) => x.action === "delete-project" && x.resource.id === p.id));
    });
  });
});
