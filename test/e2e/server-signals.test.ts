import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { spawnKms } from "../helpers/kms-process.js";

/**
 * Supervisors and scripts take `kms server listening on …` as "ready" and may stop the server the instant they
 * see it. The signal handlers must be in place by then: a SIGTERM at that moment is a clean shutdown (exit 0),
 * never the default action that kills the process mid-start. Three servers start at once, so the one printing
 * is often preempted right after its write by the reader it woke (that is how the race showed, ~1 run in 4).
 */
const dir = mkdtempSync(join(tmpdir(), "kms-signals-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("SIGTERM the moment the listening line appears: a clean exit 0, every time", { timeout: 120_000 }, async () => {
  const once = async (i: number) => {
    const p = spawnKms(["server", "--port", "0", "--data-dir", join(dir, String(i)), "--log-level", "warn"]);
    await p.waitFor(/kms server listening on/);
    p.proc.kill("SIGTERM");
    return { ...(await p.exited), out: p.output() };
  };
  for (let round = 0; round < 8; round++) {
    for (const r of await Promise.all([0, 1, 2].map((k) => once(round * 3 + k)))) assert.deepEqual([r.code, r.signal], [0, null], r.out);
  }
});
