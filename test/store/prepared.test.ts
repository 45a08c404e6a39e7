import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { OpenedDatabase } from "../../src/store/db.js";
import { migrateToLatest } from "../../src/store/migrate.js";
import { sql } from "kysely";
import { dialectOf, insertRowsQuery, prepare, usePostgresNamedStatements } from "../../src/store/prepared.js";
import { groupCommit } from "../../src/store/group-commit.js";
import type { AuditLogTable } from "../../src/store/schema.js";
import { needService } from "../helpers/services.js";
import { openPgKysely } from "../helpers/postgres.js";
import { openPostgresTestDatabase, openSqliteTestDatabase, type TestDatabase } from "../helpers/databases.js";

const row = (id: string, extra: Partial<AuditLogTable> = {}): AuditLogTable => ({
  id, org_id: null, project_id: null, actor_type: "identity", actor_id: null, action: "test", resource_type: "test", resource_id: null,
  ip: null, user_agent: null, metadata: "{}", created_at: new Date().toISOString(), ...extra,
});

/** The same checks against SQLite and PostgreSQL: the point of compiling through Kysely is that both work. */
const suite = (name: string, open: (t: TestContext) => Promise<TestDatabase | undefined>) =>
  describe(`prepared queries (${name})`, () => {
    test("a prepared query answers like the builder, for any arguments, and reuses one compiled text", async (t) => {
      const o = await open(t);
      if (!o) return;
      const { d } = o;
      try {
        await d.db.insertInto("audit_logs").values([row("a", { action: "x", ip: "10.0.0.1" }), row("b", { action: "y" }), row("c", { action: "x" })]).execute();
        let builds = 0;
        const byAction = prepare(d.db, (action: string, notId: string) => {
          builds++;
          return d.db.selectFrom("audit_logs").select(["id", "ip"]).where("action", "=", action).where("id", "!=", notId).where("resource_type", "=", "test").orderBy("id");
        });
        assert.deepEqual(await byAction.all("x", "none"), [{ id: "a", ip: "10.0.0.1" }, { id: "c", ip: null }]);
        assert.deepEqual(await byAction.all("x", "a"), [{ id: "c", ip: null }]);
        assert.deepEqual(await byAction.first("y", "a"), { id: "b", ip: null });
        assert.equal(await byAction.first("nothing", "a"), undefined);
        assert.equal(builds, 1, "built and compiled once");
        // An argument that would not be a bound parameter is refused rather than silently mis-bound.
        const bad = prepare(d.db, (column: string) => d.db.selectFrom("audit_logs").select(column as "id"));
        await assert.rejects(bad.all("id"), /argument 0 .* is not a single parameter/);
      } finally {
        await o.done();
      }
    });

    test("group commit's multi-row INSERT writes every column of every row, values bound, not spliced", async (t) => {
      const o = await open(t);
      if (!o) return;
      const { d } = o;
      try {
        const tricky = `it's "quoted"; drop table audit_logs; --`;
        const q = insertRowsQuery(dialectOf(d.db), "audit_logs", [row("r1", { metadata: tricky }), row("r2", { ip: "::1" })]);
        assert.ok(q);
        assert.ok(!q.sql.includes("quoted"), "values are parameters, never part of the SQL text");
        await d.db.executeQuery(q);
        const rows = await d.db.selectFrom("audit_logs").select(["id", "metadata", "ip"]).where("id", "in", ["r1", "r2"]).orderBy("id").execute();
        assert.deepEqual(rows, [{ id: "r1", metadata: tricky, ip: null }, { id: "r2", metadata: "{}", ip: "::1" }]);
        // Rows that differ in their columns, or leave one undefined, go back to the builder.
        const { ip: _ip, ...withoutIp } = row("r3");
        assert.equal(insertRowsQuery("sqlite", "audit_logs", [row("r3"), withoutIp]), undefined);
        assert.equal(insertRowsQuery("sqlite", "audit_logs", [row("r3", { ip: undefined })]), undefined);
        // And group commit writes such rows all the same.
        await groupCommit(d.db).insert([["audit_logs", withoutIp as AuditLogTable], ["audit_logs", row("r4")]]);
        assert.equal((await d.db.selectFrom("audit_logs").select("id").where("id", "in", ["r3", "r4"]).execute()).length, 2);
      } finally {
        await o.done();
      }
    });
  });

suite("SQLite", () => openSqliteTestDatabase("kms-prepared-"));
suite("PostgreSQL", openPostgresTestDatabase);

describe("prepared queries on PostgreSQL go out as named statements", () => {
  test("parsed once per connection; a changed table or a forgotten statement is recovered from, not failed", async (t) => {
    if (!(await needService(t, "postgres"))) return;
    // One connection, so every query below meets the statements the earlier ones prepared there.
    const { db, pool, done } = openPgKysely();
    try {
      await migrateToLatest(db);
      usePostgresNamedStatements(db, pool);
      await db.insertInto("audit_logs").values([row("a", { action: "x" }), row("b", { action: "x" })]).execute();
      const byAction = prepare(db, (action: string) => db.selectFrom("audit_logs").selectAll().where("action", "=", action).orderBy("id"));
      assert.deepEqual((await byAction.all("x")).map((r) => r.id), ["a", "b"]);
      const prepared = async () => (await pool.query<{ name: string }>("SELECT name FROM pg_prepared_statements")).rows.map((r) => r.name);
      const [name] = await prepared();
      assert.match(name ?? "", /^kms_prepared_\d+$/, "the query was prepared under a name of ours");
      assert.equal((await byAction.first("x"))?.id, "a");
      assert.deepEqual(await prepared(), [name], "and used again, not prepared anew");

      // Another server's migration adds a column: PostgreSQL refuses the cached plan; the query prepares again.
      await pool.query("ALTER TABLE audit_logs ADD COLUMN extra_test text");
      const after = await byAction.all("x");
      assert.deepEqual(after.map((r) => r.id), ["a", "b"]);
      assert.ok("extra_test" in after[0]!, "the new plan has the new column");
      assert.ok((await prepared()).some((n) => n !== name), "prepared again under a fresh name");

      // A pooler that resets connections forgets the statements: from then on the query goes out unnamed.
      await pool.query("DEALLOCATE ALL");
      assert.deepEqual((await byAction.all("x")).map((r) => r.id), ["a", "b"]);
      assert.deepEqual((await byAction.all("x")).map((r) => r.id), ["a", "b"]);
      assert.deepEqual(await prepared(), [], "nothing was prepared again");

      // Other errors are the caller's, as they were.
      const broken = prepare(db, (id: string) => db.selectFrom("audit_logs").select("id").where("id", "=", id).where(sql<boolean>`1/0 = 1`));
      await assert.rejects(broken.all("a"), /division by zero/);
    } finally {
      await done();
    }
  });
});
