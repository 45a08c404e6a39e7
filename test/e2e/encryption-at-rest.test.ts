import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";

/**
 * Issue 2 item 3: no secret value, comment or reminder note reaches the database in plaintext, and a server
 * started with the wrong root key refuses to run instead of serving garbage.
 */
const marker = () => `marker${randomBytes(12).toString("hex")}`;

/** Stores secrets whose value, comment, reminder note, metadata and older versions carry `secret`; the key name carries `control`. */
const writeMarkedSecrets = async (s: TestServer, secret: string, control: string) => {
  const p = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "at-rest", slug: "at-rest" } });
  assert.equal(p.status, 200, p.text);
  const projectId = p.body.project.id as string;
  const base = { workspaceId: projectId, environment: "dev" };
  const key = `KEY_${control}`;
  const c = await api(s.address, "POST", `/api/v3/secrets/raw/${key}`, {
    token: s.adminToken,
    body: {
      ...base, secretValue: `value-${secret}`, secretComment: `comment-${secret}`, secretReminderNote: `note-${secret}`,
      secretMetadata: [{ key: "m", value: `meta-${secret}`, isEncrypted: true }],
    },
  });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.body.secret.secretReminderNote, `note-${secret}`);
  // The first version (with the marker) now lives only in secret_versions.
  const u = await api(s.address, "PATCH", `/api/v3/secrets/raw/${key}`, { token: s.adminToken, body: { ...base, secretValue: `updated-${secret}` } });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.body.secret.secretReminderNote, `note-${secret}`, "an update that does not name the note keeps it");
  const multiline = await api(s.address, "POST", "/api/v3/secrets/raw/PEM", { token: s.adminToken, body: { ...base, secretValue: `-----BEGIN-----\n${secret}\n-----END-----\n` } });
  assert.equal(multiline.status, 200, multiline.text);
  return { projectId, key };
};

const readBack = async (s: TestServer, projectId: string, key: string, version?: number) =>
  api(s.address, "GET", `/api/v3/secrets/raw/${key}?workspaceId=${projectId}&environment=dev${version ? `&version=${version}` : ""}`, { token: s.adminToken });

/** Every column of every row of the secret tables, read straight from the SQLite file (read-only). */
const secretColumns = (dataDir: string): { table: string; column: string; value: string }[] => {
  const db = new BetterSqlite3(join(dataDir, "kms.sqlite"), { readonly: true, fileMustExist: true });
  try {
    return ["secrets", "secret_versions"].flatMap((table) =>
      (db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[]).flatMap((row) =>
        Object.entries(row).map(([column, v]) => ({ table, column, value: v === null ? "" : Buffer.isBuffer(v) ? v.toString("latin1") : String(v) }))));
  } finally {
    db.close();
  }
};

const dumpOf = (backend: "sqlite" | "postgres", dataDir: string, pg?: ReturnType<typeof createPgDatabase>): Buffer =>
  backend === "postgres"
    ? execFileSync("pg_dump", ["-h", "127.0.0.1", "-U", "postgres", "-d", pg!.name], { maxBuffer: 256 * 1024 * 1024 })
    : Buffer.concat(["kms.sqlite", "kms.sqlite-wal"].map((f) => join(dataDir, f)).filter(existsSync).map((f) => readFileSync(f)));

// SQLite and PostgreSQL run side by side: each needs three server starts, and a start costs seconds.
describe("encryption at rest", { concurrency: 2 }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  for (const backend of ["sqlite", "postgres"] as const)
    test(`${backend}: no plaintext value, comment or reminder note at rest; a different KMS_ENCRYPTION_KEY is refused clearly`, async (t) => {
      let pg: ReturnType<typeof createPgDatabase> | undefined;
      if (backend === "postgres") {
        if (!(await needService(t, "postgres"))) return;
        pg = createPgDatabase();
        cleanups.push(() => pg!.drop());
      }
      const dataDir = mkdtempSync(join(tmpdir(), "kms-at-rest-"));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const original = randomBytes(32).toString("base64");
      const s = await startServer({ dataDir, databaseUrl: pg?.url, env: { KMS_ENCRYPTION_KEY: original } });
      cleanups.push(() => s.stop().then(() => undefined));
      const secret = marker();
      const control = marker();
      const { projectId, key } = await writeMarkedSecrets(s, secret, control);
      for (const version of [undefined, 1, 2]) {
        const r = await readBack(s, projectId, key, version);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.secret.secretReminderNote, `note-${secret}`, `the note comes back unchanged (version ${version ?? "current"})`);
      }

      // SQLite: the database file plus its WAL (read while the server runs); PostgreSQL: pg_dump of the fresh database.
      const live = dumpOf(backend, dataDir, pg);
      assert.ok(live.includes(control), "positive control: the plaintext key name is found, so the search works");
      assert.ok(live.includes("secret_versions") || backend === "sqlite", "the dump covers the secret tables");
      assert.ok(!live.includes(secret), "the marker is absent from the stored bytes");
      await s.stop();
      assert.ok(!dumpOf(backend, dataDir, pg).includes(secret), "and after a checkpointing shutdown");
      if (backend === "sqlite") {
        const cells = secretColumns(dataDir);
        assert.ok(cells.some((c) => c.table === "secrets" && c.value === key), "positive control: the key name is read from the secrets table");
        assert.deepEqual(cells.filter((c) => c.value.includes(secret)).map((c) => `${c.table}.${c.column}`), [], "no column of secrets or secret_versions holds the marker");
        const notes = cells.filter((c) => c.table === "secrets" && c.column === "reminder_note" && c.value !== "");
        assert.equal(notes.length, 1, "the note is stored, not dropped");
        assert.match(notes[0]!.value, /^v1\./, "in the envelope format of values and comments");
      }
      assert.ok(!s.output().includes(secret), "and from the server log");

      const wrong = randomBytes(32).toString("base64");
      const failed = await startServer({ dataDir, databaseUrl: pg?.url, bootstrap: false, env: { KMS_ENCRYPTION_KEY: wrong } }).then(
        (x) => { void x.stop(); return "started"; },
        (e: Error) => e.message,
      );
      assert.match(failed, /server exited with 1/);
      assert.match(failed, /the encryption key \(fingerprint [0-9a-f]+\) is not the one this database was written with \(fingerprint [0-9a-f]+\)/);
      assert.match(failed, /KMS_ENCRYPTION_KEY/);
      assert.ok(!failed.includes(wrong) && !failed.includes(original), "no key material in the message");
      // Without the variable, a key file is made for the start and fails the same check: it is not left behind
      // to pass for the key of this database.
      const noKey = await startServer({ dataDir, databaseUrl: pg?.url, bootstrap: false, env: { KMS_ENCRYPTION_KEY: "" } }).then(
        (x) => { void x.stop(); return "started"; },
        (e: Error) => e.message,
      );
      assert.match(noKey, /is not the one this database was written with/);
      assert.ok(!existsSync(join(dataDir, "root.key")), "no stray root.key");

      await s.restart();
      const v1 = await readBack(s, projectId, key, 1);
      assert.equal(v1.body.secret.secretValue, `value-${secret}`, "with the right key the first version decrypts again");
      assert.equal(v1.body.secret.secretReminderNote, `note-${secret}`, "and so does its reminder note");
    });
});
