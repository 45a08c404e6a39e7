import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { migrateDownTo, migrateToLatest } from "../../src/store/migrate.js";
import { pkiStore } from "../../src/store/pki.js";
import type { CertificateTable, Database } from "../../src/store/schema.js";
import { openPgKysely } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";

/**
 * A CRL is rebuilt on every revocation from the CA's revoked certificates. That read must go through the
 * partial index of revoked certificates, not through every certificate the CA issued (a scan of the whole
 * inventory per revocation, 120-230 ms at 46,000 certificates, on the event loop). A query whose condition no
 * longer implies the index's (a changed status value, an OR) would quietly lose it.
 */
const cert = (id: string, caId: string, status: string): CertificateTable => ({
  id, project_id: "p", ca_id: caId, ca_cert_id: null, profile_id: null, status, serial_number: id, common_name: "x", alt_names: "",
  not_before: "2026-01-01T00:00:00.000Z", not_after: "2027-01-01T00:00:00.000Z", revoked_at: status === "revoked" ? "2026-06-01T00:00:00.000Z" : null,
  revocation_reason: status === "revoked" ? 1 : null, key_usages: "[]", extended_key_usages: "[]", key_algorithm: "EC_prime256v1",
  signature_algorithm: "SHA256-ECDSA", certificate: "", certificate_chain: "", encrypted_private_key: null, fingerprint_sha256: id, request: "{}",
  renewed_from_id: null, created_at: "2026-01-01T00:00:00.000Z", updated_at: "2026-01-01T00:00:00.000Z",
});

const suite = (name: string, open: (t: TestContext, log: (q: { sql: string; parameters: readonly unknown[] }) => void) => Promise<{ db: Kysely<Database>; plan(q: { sql: string; parameters: readonly unknown[] }): Promise<string>; done(): Promise<void> } | undefined>) =>
  describe(`certificate store queries (${name})`, () => {
    test("the CA's revoked certificates are read through the partial index, and only they come back", async (t) => {
      const seen: { sql: string; parameters: readonly unknown[] }[] = [];
      const o = await open(t, (q) => seen.push(q));
      if (!o) return;
      try {
        const rows = [cert("a1", "ca-a", "active"), cert("a2", "ca-a", "revoked"), cert("a3", "ca-a", "revoked"), cert("b1", "ca-b", "revoked")];
        for (let i = 0; i < 200; i++) rows.push(cert(`n${i}`, "ca-a", "active"));
        await o.db.insertInto("certificates").values(rows).execute();
        seen.length = 0;
        const revoked = await pkiStore(o.db).listRevoked("ca-a");
        assert.deepEqual(revoked.map((r) => r.serial_number).sort(), ["a2", "a3"]);
        const query = seen.find((q) => /from "certificates"/.test(q.sql));
        assert.ok(query, "the query was seen");
        assert.match(await o.plan(query), /certificates_revoked/);
      } finally {
        await o.done();
      }
    });

    test("listing requests: search matches the certificate's names, or the name a request without one asked for", async (t) => {
      const o = await open(t, () => undefined);
      if (!o) return;
      try {
        await o.db.insertInto("certificates").values({ ...cert("c1", "ca-a", "active"), common_name: "certname.example.org", alt_names: "san.example.org" }).execute();
        const req = (id: string, status: string, certificateId: string | null, attributes: object, created: string) => ({
          id, project_id: "p", profile_id: null, status, certificate_id: certificateId, error_message: null, attributes: JSON.stringify(attributes), created_at: created, updated_at: created,
        });
        await o.db.insertInto("certificate_requests").values([
          req("r1", "issued", "c1", { commonName: "ignored.example.com" }, "2026-01-01T00:00:01.000Z"),
          req("r2", "pending", null, { commonName: "pending.example.com", keyUsages: ["digital_signature"] }, "2026-01-01T00:00:02.000Z"),
          req("r3", "failed", null, { altNames: [{ type: "dns_name", value: "x.example.com" }] }, "2026-01-01T00:00:03.000Z"),
        ]).execute();
        const ids = async (search: string) =>
          (await pkiStore(o.db).listRequests("p", { search, offset: 0, limit: 10, newestFirst: true })).rows.map((r) => r.id);
        assert.deepEqual(await ids("pending"), ["r2"]);
        assert.deepEqual(await ids("certname"), ["r1"], "the certificate's common name");
        assert.deepEqual(await ids("san.example"), ["r1"], "the certificate's SANs");
        assert.deepEqual(await ids("ignored"), [], "an issued request is found by its certificate");
        assert.deepEqual(await ids("digital"), [], "other attributes are not searched");
        const all = await pkiStore(o.db).listRequests("p", { offset: 0, limit: 2, newestFirst: false });
        assert.deepEqual(all.rows.map((r) => r.id), ["r1", "r2"]);
        assert.equal(all.totalCount, 3);
      } finally {
        await o.done();
      }
    });
  });

suite("SQLite", async (_t, log) => {
  const dir = mkdtempSync(join(tmpdir(), "kms-indexes-"));
  const sqlite = new BetterSqlite3(join(dir, "kms.sqlite"));
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }), log: (e) => { if (e.level === "query") log(e.query); } });
  await migrateToLatest(db);
  sqlite.pragma("foreign_keys = OFF"); // rows without their project, profile or CA
  return {
    db,
    plan: async (q) => sqlite.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...(q.parameters as unknown[])).map((r) => (r as { detail: string }).detail).join("\n"),
    done: async () => { await db.destroy(); rmSync(dir, { recursive: true, force: true }); },
  };
});

suite("PostgreSQL", async (t, log) => {
  if (!(await needService(t, "postgres"))) return undefined;
  const { db, pool, done } = openPgKysely({ log });
  await migrateToLatest(db);
  // Rows without their project, profile or CA: drop the foreign keys of the two tables the tests write.
  const fks = await sql<{ table: string; name: string }>`SELECT conrelid::regclass::text AS table, conname AS name FROM pg_constraint
    WHERE contype = 'f' AND conrelid::regclass::text IN ('certificates', 'certificate_requests')`.execute(db);
  for (const fk of fks.rows) await sql.raw(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${fk.name}`).execute(db);
  return {
    db,
    // Tiny tables make a sequential scan the cheaper plan; what matters is that the index can serve the query.
    plan: async (q) => {
      const c = await pool.connect();
      try {
        await c.query("SET enable_seqscan = off");
        return (await c.query(`EXPLAIN ${q.sql}`, q.parameters as unknown[])).rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n");
      } finally {
        c.release();
      }
    },
    done,
  };
});

test("PostgreSQL: indexes built beforehand with CREATE INDEX CONCURRENTLY (server.md) leave migrations 010 and 011 nothing to do", async (t) => {
  if (!(await needService(t, "postgres"))) return;
  const { db, pool, done } = openPgKysely();
  try {
    await migrateToLatest(db);
    await migrateDownTo(db, "009_certificates_by_serial");
    const indexes = async () => (await pool.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE indexname IN ('certificates_revoked', 'certificate_requests_project_created') ORDER BY 1")).rows.map((r) => r.indexname);
    assert.deepEqual(await indexes(), [], "a database as the release before 010 left it");
    await pool.query("CREATE INDEX CONCURRENTLY IF NOT EXISTS certificates_revoked ON certificates (ca_id) WHERE status = 'revoked'");
    await pool.query("CREATE INDEX CONCURRENTLY IF NOT EXISTS certificate_requests_project_created ON certificate_requests (project_id, created_at)");
    await migrateToLatest(db);
    assert.deepEqual(await indexes(), ["certificate_requests_project_created", "certificates_revoked"]);
  } finally {
    await done();
  }
});
