import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { openDatabase } from "../../src/store/db.js";

/** The WAL header's checkpoint sequence number (bytes 12-15): it goes up by one each time the WAL restarts. */
const walRestarts = (wal: string): number => {
  const fd = openSync(wal, "r");
  try {
    const b = Buffer.alloc(16);
    readSync(fd, b, 0, 16, 0);
    return b.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
};

test("under continuous writes the WAL is checkpointed off the event loop and restarts, so it stays bounded", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kms-checkpointer-"));
  const d = openDatabase({ dataDir: dir });
  try {
    await sql`CREATE TABLE bulk (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`.execute(d.db);
    const wal = join(dir, "kms.sqlite-wal");
    const body = "x".repeat(4000);
    let written = 0;
    let walMax = 0;
    let firstSeq: number | undefined;
    // ~144 MB in transactions of 20 rows, never pausing longer than a timer tick: long enough that how soon
    // the first restart comes on a busy machine (the checkpointer thread shares two cores with the rest of
    // the test run) does not decide the outcome, only whether the WAL keeps being restarted.
    let transactions = 0;
    for (let i = 0; i < 1_800; i++) {
      transactions++;
      await d.db.transaction().execute(async (tx) => {
        for (let j = 0; j < 20; j++) await sql`INSERT INTO bulk (body) VALUES (${body})`.execute(tx);
      });
      written += 20 * 4000;
      if (existsSync(wal)) {
        walMax = Math.max(walMax, statSync(wal).size);
        firstSeq ??= walRestarts(wal);
      }
      // A server's writes come between requests: every tenth transaction waits for a timer tick, so the
      // main connection's hand-over (a message from the checkpointer thread) is served as it would be there.
      await new Promise((r) => (i % 10 === 9 ? setTimeout(r, 1) : setImmediate(r)));
    }
    const restarts = walRestarts(wal) - firstSeq!;
    const rows = await sql<{ n: number }>`SELECT count(*) AS n FROM bulk`.execute(d.db);
    assert.equal(rows.rows[0]!.n, transactions * 20);
    assert.ok(restarts >= 2, `the WAL restarted ${restarts} times while ${written} bytes were written`);
    // Without the restarts the WAL would hold everything written. How far it grows between two restarts
    // depends on the machine (the checkpoints fsync): 25-40 MB alone, up to ~80 MB beside the rest of the suite.
    assert.ok(walMax < written * 0.75, `the WAL stayed bounded (largest ${walMax} bytes for ${written} written)`);
  } finally {
    await d.close();
  }
  assert.ok(!existsSync(join(dir, "kms.sqlite-wal")) || statSync(join(dir, "kms.sqlite-wal")).size === 0, "closing checkpoints the rest");
  rmSync(dir, { recursive: true, force: true });
});
