import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_TIMER_MS, sleepInChunks, systemClock } from "../../src/core/clock.js";
import { runHook } from "../../src/agent/hooks.js";
import { silentLogger } from "../../src/agent/log.js";

const settledWithin = async (p: Promise<unknown>, ms: number): Promise<boolean> => {
  let settled = false;
  void p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, ms));
  return settled;
};

test("a sleep longer than a Node timer can hold (2^31-1 ms) is still long, and an abort ends it", async () => {
  const abort = new AbortController();
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on("warning", onWarning);
  try {
    const long = systemClock.sleep(30 * 86_400_000, abort.signal);
    assert.equal(await settledWithin(long, 100), false, "30 days did not pass in 100 ms");
    abort.abort();
    await assert.rejects(long, { name: "AbortError" });
    const justOver = new AbortController();
    const over = systemClock.sleep(MAX_TIMER_MS + 1, justOver.signal);
    assert.equal(await settledWithin(over, 50), false);
    justOver.abort();
    await assert.rejects(over, { name: "AbortError" });
  } finally {
    process.off("warning", onWarning);
  }
  assert.deepEqual(warnings.filter((w) => w === "TimeoutOverflowWarning"), []);
});

test("the chunks add up to the whole delay, each one within a timer's range", async () => {
  const slept: number[] = [];
  await sleepInChunks(3 * MAX_TIMER_MS + 5, undefined, async (ms) => void slept.push(ms));
  assert.deepEqual(slept, [MAX_TIMER_MS, MAX_TIMER_MS, MAX_TIMER_MS, 5]);
  const started = Date.now();
  await sleepInChunks(60, undefined, undefined, 25);
  assert.ok(Date.now() - started >= 55, "three real chunks of at most 25 ms");
});

test("a hook timeout of 3,000,000 seconds does not kill the hook at once", async () => {
  const r = await runHook({ name: "on-issuance", command: "sleep 0.3", timeoutMs: 3_000_000 * 1000, env: {} }, { clock: systemClock, logger: silentLogger });
  assert.equal(r.timedOut, false);
  assert.equal(r.exitCode, 0);
});
