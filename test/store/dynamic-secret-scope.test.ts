import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { systemClock } from "../../src/core/clock.js";
import { newId } from "../../src/core/ids.js";
import { rootKeyring } from "../../src/crypto/envelope.js";
import { createServices } from "../../src/server/services.js";
import type { OpenedDatabase } from "../../src/store/db.js";
import { dynamicSecretStore, dynamicSecretsGoingWith } from "../../src/store/dynamic-secrets.js";
import { folderStore } from "../../src/store/folders.js";
import { migrateToLatest } from "../../src/store/migrate.js";
import { projectStore } from "../../src/store/projects.js";
import type { DynamicSecretLeaseTable, DynamicSecretTable } from "../../src/store/schema.js";
import { openPostgresTestDatabase, openSqliteTestDatabase, type TestDatabase } from "../helpers/databases.js";

/**
 * The last line of defence when a project, environment or folder is deleted: the cascade would forget a
 * lease whose user still exists at its target, so the store deletes nothing while one is recorded in the
 * scope, and on PostgreSQL a lease or dynamic secret inserted concurrently waits for the delete and fails.
 * The same holds for deleting one dynamic secret. The services revoke every lease before they get here;
 * these rows are written directly.
 */
const now = new Date().toISOString();
const dsRow = (projectId: string, envId: string, folderId: string, name: string): DynamicSecretTable => ({
  id: newId(), project_id: projectId, env_id: envId, folder_id: folderId, name, version: 1, type: "sql-database", default_ttl: "1h", max_ttl: null,
  encrypted_inputs: "sealed", status: null, status_details: null, username_template: null, metadata: "[]", created_at: now, updated_at: now,
});
const leaseRow = (ds: DynamicSecretTable): DynamicSecretLeaseTable => ({
  id: newId(), dynamic_secret_id: ds.id, project_id: ds.project_id, version: 1, external_entity_id: `u_${randomBytes(4).toString("hex")}`,
  expire_at: now, encrypted_data: "sealed", status: null, status_details: null, config: null, lock_until: null, created_at: now, updated_at: now,
});

const suite = (name: string, open: (t: TestContext) => Promise<TestDatabase | undefined>) =>
  describe(`deleting a scope with dynamic-secret leases (${name})`, () => {
    /** A project whose dev environment has /app, /app/db and /app_x (a sibling whose name shares the prefix). */
    const setup = async (d: OpenedDatabase) => {
      const services = createServices({ db: d.db, root: rootKeyring(randomBytes(32)), clock: systemClock, publicUrl: () => "http://127.0.0.1" });
      const boot = await services.bootstrap.bootstrap({ email: "a@example.com", password: "pw-123456", organization: "org" }, { ip: "127.0.0.1" });
      const actor = await services.tokens.authenticate(boot.identity.credentials.token, { ip: "127.0.0.1" });
      const p = await services.projects.create(actor, { projectName: "Scope", slug: "scope-test" });
      const env = p.environments.find((e) => e.slug === "dev")!;
      const folders = folderStore(d.db);
      const mk = async (path: string, name: string) => {
        const f = await services.folders.create(actor, { projectId: p.id, environment: "dev", path, name });
        return (await folders.getByPath(env.id, f.path))!;
      };
      const app = await mk("/", "app");
      const db = await mk("/app", "db");
      const sibling = await mk("/", "app_x");
      return { projectId: p.id, envId: env.id, app, db, sibling, services, actor };
    };

    test("every dynamic secret the cascade takes has its own audit event, also one created while the delete ran", async (t) => {
      const o = await open(t);
      if (!o) return;
      try {
        const { d } = o;
        const ds = dynamicSecretStore(d.db);
        const s = await setup(d);
        const before = dsRow(s.projectId, s.envId, s.db.id, "before");
        await ds.insert(before);
        const newcomer = dsRow(s.projectId, s.envId, s.app.id, "newcomer");
        const folders = folderStore(d.db);
        // The service reads the scope's dynamic secrets, revokes their leases, then drops the scope: the
        // newcomer arrives in between, with no lease yet.
        await s.services.dynamicSecrets.secrets.removeAllIn(s.actor, {
          projectId: s.projectId, scope: { kind: "folder", envId: s.envId, path: "/app" }, what: "Folder '/app'",
          drop: async () => { await ds.insert(newcomer); return folders.delete(s.projectId, s.app); },
        });
        assert.equal(await ds.get(newcomer.id), undefined, "the newcomer went with the folder");
        const events = await d.db.selectFrom("audit_logs").select(["resource_id", "metadata"]).where("action", "=", "delete-dynamic-secret").execute();
        assert.deepEqual(events.map((e) => e.resource_id).sort(), [before.id, newcomer.id].sort());
        for (const e of events) assert.equal(JSON.parse(e.metadata).reason, "folder-deleted");
      } finally {
        await o.done();
      }
    });

    test("a lease anywhere in the scope blocks the delete, which then deletes nothing; one outside does not", async (t) => {
      const o = await open(t);
      if (!o) return;
      try {
        const { d } = o;
        const ds = dynamicSecretStore(d.db);
        const folders = folderStore(d.db);
        const projects = projectStore(d.db);
        const s = await setup(d);
        const deep = dsRow(s.projectId, s.envId, s.db.id, "deep");
        await ds.insert(deep);
        const lease = leaseRow(deep);
        await ds.insertLease(lease);
        const outside = dsRow(s.projectId, s.envId, s.sibling.id, "outside");
        await ds.insert(outside);
        await ds.insertLease(leaseRow(outside));

        assert.equal(await folders.delete(s.projectId, s.app), false, "a lease in /app/db blocks deleting /app");
        assert.equal(await projects.deleteEnvironment(s.envId), false);
        assert.equal(await projects.delete(s.projectId), false);
        assert.ok(await folders.getByPath(s.envId, "/app/db"), "nothing was deleted");
        assert.ok(await ds.getLease(lease.id));
        assert.deepEqual((await ds.listInScope({ kind: "folder", envId: s.envId, path: "/app" })).map((r) => [r.name, r.folder_path]), [["deep", "/app/db"]]);

        await ds.deleteLease(lease.id);
        const went = await folders.delete(s.projectId, s.app);
        assert.deepEqual(went && went.map((r) => r.id), [deep.id], "the lease in /app_x is not in /app; the dynamic secret in /app/db went");
        assert.equal(await folders.getByPath(s.envId, "/app/db"), undefined);
        assert.equal(await ds.get(deep.id), undefined, "the dynamic secret went with its folder");
        assert.ok(await ds.get(outside.id));
        assert.equal(await projects.delete(s.projectId), false, "the lease in /app_x is in the project");
      } finally {
        await o.done();
      }
    });

    test("deleting one dynamic secret: a lease the caller did not revoke (created meanwhile) keeps it; known ones go with it", async (t) => {
      const o = await open(t);
      if (!o) return;
      try {
        const ds = dynamicSecretStore(o.d.db);
        const s = await setup(o.d);
        const row = dsRow(s.projectId, s.envId, s.app.id, "one");
        await ds.insert(row);
        const known = leaseRow(row);
        const newcomer = leaseRow(row);
        await ds.insertLease(known);
        await ds.insertLease(newcomer);
        assert.equal(await ds.deleteUnlessOtherLeases(row.id, [known.id]), false, "the newcomer was never revoked");
        assert.ok(await ds.get(row.id), "nothing was deleted");
        assert.ok(await ds.getLease(known.id));
        // A forced delete gives up on leases it tried and could not revoke: those go with it.
        assert.equal(await ds.deleteUnlessOtherLeases(row.id, [known.id, newcomer.id]), true);
        assert.equal(await ds.get(row.id), undefined);
        assert.equal(await ds.getLease(newcomer.id), undefined, "its leases went with it");
        const bare = dsRow(s.projectId, s.envId, s.app.id, "bare");
        await ds.insert(bare);
        assert.equal(await ds.deleteUnlessOtherLeases(bare.id, []), true, "no leases at all");
      } finally {
        await o.done();
      }
    });

    test("PostgreSQL: a lease or dynamic secret inserted while the delete runs waits for it and then fails", async (t) => {
      const o = await open(t);
      if (!o) return;
      try {
        const { d } = o;
        if (!o.postgres) return t.skip("SQLite runs one transaction at a time");
        const ds = dynamicSecretStore(d.db);
        const s = await setup(d);
        const existing = dsRow(s.projectId, s.envId, s.db.id, "existing");
        await ds.insert(existing);
        const settled = (p: Promise<unknown>) => p.then(() => "inserted", (e: { code?: string }) => `failed ${e.code}`);
        let lease: Promise<string> | undefined;
        let secret: Promise<string> | undefined;
        await d.db.transaction().execute(async (tx) => {
          const going = await dynamicSecretsGoingWith(tx, { kind: "folder", envId: s.envId, path: "/app" });
          assert.deepEqual(going && going.map((r) => r.name), ["existing"]);
          lease = ds.insertLease(leaseRow(existing)).then((ok) => (ok ? "inserted" : "refused: its dynamic secret is gone"), (e: { code?: string }) => `failed ${e.code}`);
          secret = settled(ds.insert(dsRow(s.projectId, s.envId, s.db.id, "newcomer")));
          const first = await Promise.race([lease, secret, new Promise((r) => setTimeout(() => r("waiting"), 300))]);
          assert.equal(first, "waiting", "both inserts wait for the deleting transaction");
          await tx.deleteFrom("folders").where("id", "=", s.app.id).execute();
        });
        assert.equal(await lease, "refused: its dynamic secret is gone", "the foreign-key violation is answered as false");
        assert.equal(await secret, "failed 23503", "the new dynamic secret's folder is gone");
        assert.deepEqual(await ds.listInScope({ kind: "project", projectId: s.projectId }), []);
      } finally {
        await o.done();
      }
    });
  });

suite("SQLite", () => openSqliteTestDatabase("kms-scope-"));
suite("PostgreSQL", openPostgresTestDatabase);
