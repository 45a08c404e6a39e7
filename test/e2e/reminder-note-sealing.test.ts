import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type Kysely } from "kysely";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { openDatabase } from "../../src/store/db.js";
import { migrateDownTo } from "../../src/store/migrate.js";
import type { SecretsDb } from "../../src/store/secrets.js";

/**
 * Reminder notes were stored in the clear before migration 008. A database written that way (built here by
 * putting the plaintext back into the rows a server wrote, and un-recording migration 008) is converted at
 * the next start: the API answers exactly what it answered before, no note is left in the clear in the
 * secret or version rows, a failure converts nothing of the project it hit, and running the step again
 * changes nothing.
 */
const MIGRATION = "008_seal_reminder_notes";
const MARK = "reminder_notes_sealing";
const tag = () => randomBytes(8).toString("hex");

type Backend = "sqlite" | "postgres";
type Where = { backend: Backend; dataDir: string; pgUrl?: string };

const withDb = async <T>(w: Where, fn: (db: Kysely<SecretsDb>) => Promise<T>): Promise<T> => {
  const d = openDatabase({ dataDir: w.dataDir, databaseUrl: w.pgUrl });
  try {
    return await fn(d.db as unknown as Kysely<SecretsDb>);
  } finally {
    await d.close();
  }
};

/** What the database holds for notes: every secret row's note and every version row's `extra`, by id. */
const storedNotes = (db: Kysely<SecretsDb>) =>
  Promise.all([
    db.selectFrom("secrets").select(["id", "project_id", "reminder_note"]).orderBy("id").execute(),
    db.selectFrom("secret_versions").innerJoin("secrets", "secrets.id", "secret_versions.secret_id")
      .select(["secret_versions.id", "secret_versions.secret_id", "secret_versions.version", "secret_versions.extra", "secrets.project_id"])
      .orderBy("secret_versions.id").execute(),
  ]).then(([secrets, versions]) => ({ secrets, versions }));

/** Every cell of the secret tables as text, to search for plaintext. */
const allCells = async (db: Kysely<SecretsDb>): Promise<string[]> =>
  (await Promise.all((["secrets", "secret_versions"] as const).map((t) => db.selectFrom(t).selectAll().execute())))
    .flat().flatMap((row) => Object.values(row as Record<string, unknown>).map((v) => (v === null ? "" : String(v))));

const injectFailure = async (db: Kysely<SecretsDb>, backend: Backend, versionId: string) => {
  if (backend === "sqlite") {
    await sql.raw(`CREATE TRIGGER kms_test_fail BEFORE UPDATE ON secret_versions WHEN OLD.id = '${versionId}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`).execute(db);
  } else {
    await sql.raw(`CREATE FUNCTION kms_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`).execute(db);
    await sql.raw(`CREATE TRIGGER kms_test_fail BEFORE UPDATE ON secret_versions FOR EACH ROW WHEN (OLD.id = '${versionId}') EXECUTE FUNCTION kms_test_fail()`).execute(db);
  }
};
const removeFailure = async (db: Kysely<SecretsDb>, backend: Backend) => {
  if (backend === "sqlite") await sql.raw("DROP TRIGGER kms_test_fail").execute(db);
  else {
    await sql.raw("DROP TRIGGER kms_test_fail ON secret_versions").execute(db);
    await sql.raw("DROP FUNCTION kms_test_fail()").execute(db);
  }
};

/** Two projects whose secrets cover: a note changed over versions, imports, empty and absent notes, a ciphertext look-alike. */
const writeSecrets = async (s: TestServer) => {
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await api(s.address, method, path, { token: s.adminToken, body });
    assert.equal(r.status, 200, `${method} ${path}: ${r.text}`);
    return r.body;
  };
  const t = tag();
  const p1 = (await call("POST", "/api/v1/projects", { projectName: "notes-one", slug: `notes-one-${t}` })).project.id as string;
  const p2 = (await call("POST", "/api/v1/projects", { projectName: "notes-two", slug: `notes-two-${t}` })).project.id as string;
  const put = (projectId: string, name: string, body: Record<string, unknown>, env = "dev", secretPath = "/") =>
    call("POST", `/api/v4/secrets/${name}`, { projectId, environment: env, secretPath, secretValue: `v-${name}`, ...body });
  const notes = {
    first: `rotate after the audit ${t}`,
    second: `ask the database team first ${t}`,
    // Shaped like a ciphertext of this server: only authentication tells it from one.
    lookalike: `v1.${randomBytes(40).toString("base64")}`,
    shared: `shared note ${t}`,
    other: `note in the other project ${t}`,
  };
  const changing = await put(p1, "CHANGING", { secretReminderNote: notes.first, secretReminderRepeatDays: 30 });
  await call("PATCH", "/api/v4/secrets/CHANGING", { projectId: p1, environment: "dev", secretValue: "v2" });
  await call("PATCH", "/api/v4/secrets/CHANGING", { projectId: p1, environment: "dev", secretReminderNote: notes.second });
  await call("PATCH", "/api/v4/secrets/CHANGING", { projectId: p1, environment: "dev", secretReminderNote: null });
  await put(p1, "LOOKALIKE", { secretReminderNote: notes.lookalike });
  await put(p1, "EMPTY", { secretReminderNote: "" });
  await put(p1, "NONE", {});
  await call("POST", "/api/v2/folders", { projectId: p1, environment: "prod", name: "shared", path: "/" });
  await put(p1, "SHARED", { secretReminderNote: notes.shared }, "prod", "/shared");
  await call("POST", "/api/v2/secret-imports", { projectId: p1, environment: "dev", path: "/", import: { environment: "prod", path: "/shared" } });
  const kept = await put(p1, "KEPT", { secretReminderNote: `stays as written ${t}` });
  await put(p2, "OTHER", { secretReminderNote: notes.other });
  return { p1, p2, notes, keptId: kept.secret.id as string, changingId: changing.secret.id as string };
};

interface WireSecret { id: string; secretKey: string; version: number; secretReminderNote: string | null }

/**
 * The answers a client sees, with their ETags: lists (with imports), each secret by id and every version of
 * it by name; and the note of each secret (`id`) and of each of its versions (`id@n`), which is what the
 * previous release kept in the clear.
 */
const wireAnswers = async (s: TestServer, projects: string[]) => {
  const answers: Record<string, string> = {};
  const notes = new Map<string, string | null>();
  const get = async (path: string) => {
    const r = await api(s.address, "GET", path, { token: s.adminToken });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    answers[path] = `${r.headers.get("etag")} ${r.text}`;
    return r.body;
  };
  for (const projectId of projects)
    for (const [env, secretPath] of [["dev", "/"], ["prod", "/shared"]] as const) {
      const list = await get(`/api/v4/secrets?projectId=${projectId}&environment=${env}&secretPath=${secretPath}&includeImports=true`);
      await get(`/api/v3/secrets/raw?workspaceId=${projectId}&environment=${env}&secretPath=${secretPath}&include_imports=true&recursive=true`);
      for (const secret of list.secrets as WireSecret[]) {
        notes.set(secret.id, (await get(`/api/v4/secrets/id/${secret.id}`)).secret.secretReminderNote);
        for (let v = 1; v <= secret.version; v++) {
          const old = await get(`/api/v4/secrets/${secret.secretKey}?projectId=${projectId}&environment=${env}&secretPath=${secretPath}&version=${v}`);
          notes.set(`${secret.id}@${v}`, old.secret.secretReminderNote);
        }
      }
    }
  return { answers, notes };
};

/** Puts every note back in the clear (except `keep`'s) and undoes migration 008 and those after it: a database as the release before 008 left it. */
const writeOldFormat = async (db: Kysely<SecretsDb>, plain: Map<string, string | null>, keep: string) => {
  const { secrets, versions } = await storedNotes(db);
  for (const s of secrets) {
    if (s.id === keep) continue;
    await db.updateTable("secrets").set({ reminder_note: plain.get(s.id)! }).where("id", "=", s.id).execute();
  }
  for (const v of versions) {
    if (v.secret_id === keep) continue;
    const extra = JSON.parse(v.extra) as Record<string, unknown>;
    await db.updateTable("secret_versions").set({ extra: JSON.stringify({ ...extra, reminderNote: plain.get(`${v.secret_id}@${v.version}`) }) })
      .where("id", "=", v.id).execute();
  }
  // The migrations after 008 are undone by their own `down`; 008 has none (a conversion is not undone), so
  // it is un-recorded by hand, with its mark.
  await migrateDownTo(db, MIGRATION);
  await sql`DELETE FROM kysely_migration WHERE name = ${MIGRATION}`.execute(db);
  await db.deleteFrom("meta").where("key", "=", MARK).execute();
};

const markPresent = async (db: Kysely<SecretsDb>) => !!(await db.selectFrom("meta").select("key").where("key", "=", MARK).executeTakeFirst());

describe("reminder notes stored in the clear are sealed at start", { concurrency: 2 }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  for (const backend of ["sqlite", "postgres"] as const)
    test(`${backend}: migration 008 and the one-time step convert every note, all or nothing per project, and once`, async (t) => {
      let pgUrl: string | undefined;
      if (backend === "postgres") {
        if (!(await needService(t, "postgres"))) return;
        const pg = createPgDatabase();
        cleanups.push(() => pg.drop());
        pgUrl = pg.url;
      }
      const dataDir = mkdtempSync(join(tmpdir(), "kms-note-sealing-"));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const w: Where = { backend, dataDir, pgUrl };
      const s = await startServer({ dataDir, databaseUrl: pgUrl });
      cleanups.push(() => s.stop().then(() => undefined));

      const { p1, p2, notes, keptId, changingId } = await writeSecrets(s);
      const { answers: before, notes: plain } = await wireAnswers(s, [p1, p2]);
      assert.equal(plain.size, 5 + 2 * 6, "every secret and version was read (CHANGING has four versions, the six others one)");
      assert.deepEqual([1, 2, 3, 4].map((v) => plain.get(`${changingId}@${v}`)), [notes.first, notes.first, notes.second, null], "each version has the note it was written with");
      await s.stop();

      // The previous release's database, plus a failure on one of project 1's version rows, which the step
      // rewrites after its secret rows, in the same transaction.
      const kept = await withDb(w, async (db) => {
        await writeOldFormat(db, plain, keptId);
        const { secrets, versions } = await storedNotes(db);
        const cells = await allCells(db);
        for (const n of Object.values(notes)) assert.ok(cells.some((c) => c.includes(n)), "precondition: the note is in the clear");
        const victim = versions.filter((v) => v.project_id === p1 && v.secret_id !== keptId && JSON.parse(v.extra).reminderNote).at(-1)!;
        await injectFailure(db, backend, victim.id);
        return { secrets: secrets.filter((r) => r.id === keptId), versions: versions.filter((v) => v.secret_id === keptId) };
      });
      const oldFormat = await withDb(w, storedNotes);

      const failed = await startServer({ dataDir, databaseUrl: pgUrl, bootstrap: false }).then(
        (x) => { void x.stop(); return "started"; },
        (e: Error) => e.message,
      );
      assert.match(failed, /server exited with 1/);
      assert.match(failed, /injected failure/);
      await withDb(w, async (db) => {
        const now = await storedNotes(db);
        const ofP1 = (x: typeof now) => ({ secrets: x.secrets.filter((r) => r.project_id === p1), versions: x.versions.filter((v) => v.project_id === p1) });
        assert.deepEqual(ofP1(now), ofP1(oldFormat), "project 1 is exactly as it was: its transaction rolled back");
        assert.ok(await markPresent(db), "the conversion is still due");
        await removeFailure(db, backend);
      });

      await s.restart();
      assert.deepEqual((await wireAnswers(s, [p1, p2])).answers, before, "every answer and ETag is what it was before the conversion");
      await s.stop();

      const converted = await withDb(w, async (db) => {
        const cells = await allCells(db);
        for (const [name, n] of Object.entries(notes)) assert.ok(!cells.some((c) => c.includes(n)), `the ${name} note is nowhere in the clear`);
        assert.ok(!(await markPresent(db)), "the mark is gone once every project is done");
        const ran = await sql<{ name: string }>`SELECT name FROM kysely_migration WHERE name = ${MIGRATION}`.execute(db);
        assert.equal(ran.rows.length, 1, "migration 008 is recorded");
        return storedNotes(db);
      });
      for (const r of converted.secrets) {
        const note = plain.get(r.id);
        if (note === null) assert.equal(r.reminder_note, null, "no note stays NULL");
        else assert.match(r.reminder_note!, /^v1\./, "an empty note is sealed too: the API tells it from none");
      }
      for (const v of converted.versions) {
        const note = JSON.parse(v.extra).reminderNote as string | null;
        if (plain.get(`${v.secret_id}@${v.version}`) === null) assert.equal(note, null);
        else assert.match(note!, /^v1\./);
        assert.notEqual(note, notes.lookalike, "the look-alike was sealed, not taken for a ciphertext");
      }
      assert.deepEqual(
        { secrets: converted.secrets.filter((r) => r.id === keptId), versions: converted.versions.filter((v) => v.secret_id === keptId) },
        kept,
        "a note that was already sealed is left byte for byte",
      );

      // Again, as if the mark had survived: already sealed notes are recognised and nothing is rewritten.
      await withDb(w, (db) => db.insertInto("meta").values({ key: MARK, value: "pending" }).execute());
      await s.restart();
      assert.deepEqual((await wireAnswers(s, [p1, p2])).answers, before, "the answers are still the same");
      await s.stop();
      await withDb(w, async (db) => {
        assert.deepEqual(await storedNotes(db), converted, "a second run changed no byte");
        assert.ok(!(await markPresent(db)));
      });
    });
});
