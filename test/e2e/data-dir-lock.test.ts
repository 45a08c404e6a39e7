import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { spawnKms } from "../helpers/kms-process.js";

/**
 * One `kms server` per SQLite data directory: a second one is refused with a clear message and exit 1, the
 * first keeps serving, and the lock goes with the process however it ends (kill -9 included).
 */
const dir = mkdtempSync(join(tmpdir(), "kms-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const serve = () => spawnKms(["server", "--port", "0", "--data-dir", dir, "--log-level", "warn"]);
const listening = async (p: ReturnType<typeof serve>) => (await p.waitFor(/kms server listening on (\S+)/))[1]!;
const status = async (address: string) => (await fetch(`${address}/api/status`)).status;

test("a second server on the same data directory is refused and the first keeps serving; after kill -9 the directory is free again", async () => {
  const first = serve();
  const address = await listening(first);

  const second = serve();
  const { code } = await second.exited;
  assert.equal(code, 1, second.output());
  assert.match(second.output(), new RegExp(`kms server: data directory ${dir.replaceAll("/", "\\/")} is in use by another kms server \\(pid ${first.proc.pid}\\)`));
  assert.doesNotMatch(second.output(), /at .*\.(ts|js):\d+/, "a message, not a stack trace");
  assert.equal(await status(address), 200, "the first server is untouched");

  // No clean shutdown: the operating system releases the lock with the process.
  first.proc.kill("SIGKILL");
  await first.exited;
  const third = serve();
  try {
    assert.equal(await status(await listening(third)), 200, "the directory is free once its server is gone");
  } finally {
    await third.stop();
  }

  // A clean stop releases it too.
  const fourth = serve();
  await listening(fourth);
  await fourth.stop();
  const fifth = serve();
  try {
    await listening(fifth);
  } finally {
    await fifth.stop();
  }
});
