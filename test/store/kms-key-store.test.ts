import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { migrateDownTo, migrateToLatest } from "../../src/store/migrate.js";
import { kmsKeyStore } from "../../src/store/kms-keys.js";
import type { Database, KmsKeyTable } from "../../src/store/schema.js";
import { openPgKysely } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";

/**
 * Migration 012 and the KMS key store on both dialects: the migration runs (and runs down and up again),
 * names are unique per project, a search's % and _ are literal, and of two rotations from the same version
 * only one wins.
 */
const NOW = "2026-01-01T00:00:00.000Z";
const key = (id: string, projectId: string, name: string): KmsKeyTable => ({
  id, org_id: "o", project_id: projectId, name, description: "", is_disabled: 0, key_usage: "encrypt-decrypt", algorithm: "aes-256-gcm",
  version: 1, created_at: NOW, updated_at: NOW,
});
const version = (keyId: string, v: number) => ({ kms_key_id: keyId, version: v, encrypted_material: `v1.sealed-${v}`, public_key: null, created_at: NOW });

const suite = (name: string, open: (t: TestContext) => Promise<{ db: Kysely<Database>; done(): Promise<void> } | undefined>) =>
  describe(`kms key store (${name})`, () => {
    test("migration 012, names per project, search, paging, rotation races, cascade", async (t) => {
      const o = await open(t);
      if (!o) return;
      const { db } = o;
      try {
        await migrateDownTo(db, "011_certificate_requests_by_project");
        await migrateToLatest(db);
        for (const p of ["p1", "p2"]) {
          await db.insertInto("organizations").values({ id: `o-${p}`, name: p, slug: p, created_at: NOW, updated_at: NOW }).onConflict((oc) => oc.doNothing()).execute();
          await db.insertInto("projects").values({
            id: p, org_id: `o-${p}`, name: p, slug: p, description: null, type: "kms", encrypted_data_key: "x", auto_capitalization: 0, has_delete_protection: 0, created_at: NOW, updated_at: NOW,
          }).execute();
        }
        const store = kmsKeyStore(db);
        const names = ["alpha", "beta", "gamma", "al-pha", "alphabet"];
        for (const [i, n] of names.entries()) await store.insert(key(`k${i}`, "p1", n), version(`k${i}`, 1));
        await store.insert(key("other", "p2", "alpha"), version("other", 1));
        await assert.rejects(store.insert(key("dup", "p1", "alpha"), version("dup", 1)), "a name is unique in its project");
        assert.equal(await store.get("dup"), undefined, "nothing of the refused key was written");

        const all = await store.list("p1", { offset: 0, limit: 100, orderDirection: "asc" });
        assert.deepEqual(all.rows.map((r) => r.name), ["al-pha", "alpha", "alphabet", "beta", "gamma"]);
        assert.equal(all.totalCount, 5);
        const page = await store.list("p1", { offset: 1, limit: 2, orderDirection: "desc" });
        assert.deepEqual(page.rows.map((r) => r.name), ["beta", "alphabet"]);
        assert.equal(page.totalCount, 5);
        const found = await store.list("p1", { offset: 0, limit: 100, orderDirection: "asc", search: "ALPH" });
        assert.deepEqual(found.rows.map((r) => r.name), ["alpha", "alphabet"]);
        assert.equal(found.totalCount, 2);
        assert.equal((await store.list("p1", { offset: 0, limit: 100, orderDirection: "asc", search: "al_ha" })).totalCount, 0, "_ is literal");
        assert.equal((await store.list("p1", { offset: 0, limit: 100, orderDirection: "asc", search: "%" })).totalCount, 0, "% is literal");

        assert.equal(await store.rotate(version("k0", 2), NOW), true);
        assert.equal(await store.rotate(version("k0", 2), NOW), false, "a second rotation from version 1 loses");
        assert.equal((await store.get("k0"))!.version, 2);
        assert.deepEqual((await store.listVersions("k0")).map((v) => v.version), [2, 1]);

        await store.delete("k0");
        assert.equal(await store.getVersion("k0", 1), undefined, "versions go with their key");
        await db.deleteFrom("projects").where("id", "=", "p2").execute();
        assert.equal(await store.get("other"), undefined, "keys go with their project");
      } finally {
        await o.done();
      }
    });
  });

suite("SQLite", async () => {
  const sqlite = new BetterSqlite3(":memory:");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrateToLatest(db);
  return { db, done: () => db.destroy() };
});

suite("PostgreSQL", async (t) => {
  if (!(await needService(t, "postgres"))) return undefined;
  const o = openPgKysely();
  await migrateToLatest(o.db);
  return { db: o.db, done: o.done };
});
