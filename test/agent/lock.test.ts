import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LockHeldError, acquireFileLock } from "../../src/agent/lock.js";

const dir = () => mkdtempSync(join(tmpdir(), "kms-lock-"));
const startTime = (pid: number) => { const s = readFileSync(`/proc/${pid}/stat`, "utf8"); return s.slice(s.lastIndexOf(")") + 2).split(" ")[19]; };

test("a lock names its holder, is released, and can be taken again", async () => {
  const path = join(dir(), "a.lock");
  const release = await acquireFileLock(path);
  assert.match(readFileSync(path, "utf8"), new RegExp(`^${process.pid}( \\d+)?\\n$`));
  await release();
  assert.ok(!existsSync(path));
  await (await acquireFileLock(path))();
});

test("a lock held by another live process is refused, naming its pid; a dead or reused pid's lock is taken over", async () => {
  const d = dir();
  const other = spawn("sleep", ["30"]);
  try {
    const held = join(d, "held.lock");
    writeFileSync(held, `${other.pid} ${startTime(other.pid!)}\n`);
    await assert.rejects(acquireFileLock(held), (e: unknown) => e instanceof LockHeldError && e.pid === other.pid && /held by another kms agent \(pid \d+\)/.test(e.message));

    const reused = join(d, "reused.lock");
    writeFileSync(reused, `${other.pid} 1\n`); // same pid, another start time: the holder is gone
    await (await acquireFileLock(reused))();
  } finally {
    other.kill();
  }
  const dead = spawn("true");
  await new Promise((r) => dead.on("exit", r));
  const stale = join(d, "stale.lock");
  writeFileSync(stale, `${dead.pid}\n`);
  const release = await acquireFileLock(stale);
  assert.match(readFileSync(stale, "utf8"), new RegExp(`^${process.pid}`));
  await release();
});
