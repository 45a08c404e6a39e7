import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type OpenedDatabase } from "../../src/store/db.js";
import { migrateToLatest } from "../../src/store/migrate.js";
import { coalescingCounter, groupCommit, type InsertSet } from "../../src/store/group-commit.js";
import type { AuditLogTable } from "../../src/store/schema.js";
import { openPgKysely } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";

const row = (id: string): AuditLogTable => ({
  id, org_id: null, project_id: null, actor_type: "identity", actor_id: null, action: "test", resource_type: "test", resource_id: null,
  ip: null, user_agent: null, metadata: "{}", created_at: new Date().toISOString(),
});

describe("group commit", () => {
  let dir: string;
  let d: OpenedDatabase;
  let transactions = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kms-group-commit-"));
    d = openDatabase({ dataDir: dir });
    await migrateToLatest(d.db);
    const original = d.db.transaction.bind(d.db);
    d.db.transaction = () => { transactions++; return original(); };
  });
  after(async () => {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ids = async () => (await d.db.selectFrom("audit_logs").select("id").execute()).map((r) => r.id).sort();

  test("rows handed over in one turn share one transaction, and each caller resolves after its commit", async () => {
    const batch = groupCommit(d.db);
    transactions = 0;
    await Promise.all(["a", "b", "c"].map(async (id) => {
      await batch.insert([["audit_logs", row(id)]]);
      assert.ok((await ids()).includes(id), `${id} is committed when its promise resolves`);
    }));
    assert.equal(transactions, 1);
    await batch.insert([["audit_logs", row("d")]]);
    assert.equal(transactions, 2, "a later turn gets its own transaction");
  });

  test("a failing row fails only its own caller; the others are committed", async () => {
    const batch = groupCommit(d.db);
    const results = await Promise.allSettled([
      batch.insert([["audit_logs", row("e")]]),
      batch.insert([["audit_logs", row("a")], ["audit_logs", row("f")]]), // "a" exists: this whole set fails
      batch.insert([["audit_logs", row("g")]]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.deepEqual(await ids(), ["a", "b", "c", "d", "e", "g"], "a failed set leaves none of its rows");
  });

  test("the counter sums increments per key within a turn and resolves every caller after the write", async () => {
    const writes: Record<string, number>[] = [];
    const count = coalescingCounter<string>(async (counts) => { writes.push(Object.fromEntries(counts)); });
    await Promise.all([count("t1"), count("t1"), count("t2"), count("t1")]);
    assert.deepEqual(writes, [{ t1: 3, t2: 1 }]);
    await count("t1");
    assert.deepEqual(writes[1], { t1: 1 });
    // With a window, increments of several turns share one write.
    const windowed: Record<string, number>[] = [];
    const slow = coalescingCounter<string>(async (counts) => { windowed.push(Object.fromEntries(counts)); }, { windowMs: 50 });
    const first = slow("t1");
    await new Promise((r) => setImmediate(r));
    await Promise.all([first, slow("t1"), slow("t2")]);
    assert.deepEqual(windowed, [{ t1: 2, t2: 1 }]);
    const failing = coalescingCounter<string>(async () => { throw new Error("disk full"); });
    const r = await Promise.allSettled([failing("x"), failing("y")]);
    assert.deepEqual(r.map((x) => x.status), ["rejected", "rejected"]);
  });
});

test("PostgreSQL: a batch is one statement (its INSERTs as CTEs), foreign keys between its rows hold, and a failing set fails alone", async (t) => {
  if (!(await needService(t, "postgres"))) return;
  const statements: string[] = [];
  const { db, done } = openPgKysely({ log: (q) => statements.push(q.sql) });
  try {
    await sql`CREATE TABLE parent (id text PRIMARY KEY)`.execute(db);
    await sql`CREATE TABLE child (id text PRIMARY KEY, parent_id text NOT NULL REFERENCES parent (id))`.execute(db);
    const batch = groupCommit(db);
    // The tables are the test's own; group commit only needs their names and rows.
    const set = (p: string, ...children: string[]) =>
      [["parent", { id: p }], ...children.map((c) => ["child", { id: c, parent_id: p }])] as unknown as InsertSet;
    statements.length = 0;
    await Promise.all([batch.insert(set("p1", "c1", "c2")), batch.insert(set("p2", "c3"))]);
    assert.equal(statements.length, 1, `one statement for the batch: ${statements.join(" | ")}`);
    assert.match(statements[0]!, /^with s0 as \(insert into "parent"/);
    statements.length = 0;
    const results = await Promise.allSettled([
      batch.insert(set("p3", "c4")),
      batch.insert(set("p4", "c1")), // c1 exists: this whole set fails
      batch.insert([["child", { id: "c5", parent_id: "nobody" }]] as unknown as InsertSet), // and this one's parent does not
      batch.insert(set("p5")),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "rejected", "fulfilled"]);
    const ids = async (table: string) => (await sql<{ id: string }>`SELECT id FROM ${sql.table(table)} ORDER BY id`.execute(db)).rows.map((r) => r.id);
    assert.deepEqual(await ids("parent"), ["p1", "p2", "p3", "p5"], "a failed set leaves none of its rows");
    assert.deepEqual(await ids("child"), ["c1", "c2", "c3", "c4"]);
  } finally {
    await done();
  }
});
