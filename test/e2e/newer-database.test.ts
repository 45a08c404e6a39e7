import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { spawnKms } from "../helpers/kms-process.js";

/**
 * A database a newer kms has migrated (a downgrade, or an old server started beside upgraded ones on one
 * PostgreSQL database) is refused with a message that says so, not Kysely's "corrupted migrations".
 */
const dir = mkdtempSync(join(tmpdir(), "kms-newer-db-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a database migrated by a newer kms: exit 1, naming the migration it does not know", async () => {
  const first = spawnKms(["server", "--port", "0", "--data-dir", dir, "--log-level", "warn"]);
  await first.waitFor(/kms server listening on/);
  first.proc.kill("SIGTERM");
  assert.equal((await first.exited).code, 0, first.output());

  const db = new BetterSqlite3(join(dir, "kms.sqlite"));
  db.prepare("INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)").run("999_from_a_later_release", new Date().toISOString());
  db.close();

  const second = spawnKms(["server", "--port", "0", "--data-dir", dir, "--log-level", "warn"]);
  assert.equal((await second.exited).code, 1, second.output());
  assert.match(second.output(), /the database was migrated by a newer kms \(it has migration 999_from_a_later_release; this one knows migrations up to \d{3}_\w+\): run the same or a newer version of kms on it/);
  assert.doesNotMatch(second.output(), /corrupted migrations/);
});
