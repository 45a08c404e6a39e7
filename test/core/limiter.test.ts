import { test } from "node:test";
import assert from "node:assert/strict";
import { createLimiter } from "../../src/core/limiter.js";

test("never more than max calls in flight, all complete, in order of arrival", async () => {
  const limit = createLimiter(3);
  let active = 0;
  let peak = 0;
  const started: number[] = [];
  const tick = () => new Promise((r) => setImmediate(r));
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => limit(async () => {
    started.push(i);
    peak = Math.max(peak, ++active);
    await tick();
    active--;
    return i;
  })));
  assert.equal(peak, 3);
  assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(started, Array.from({ length: 20 }, (_, i) => i));
});

test("a failing call frees its slot", async () => {
  const limit = createLimiter(1);
  await assert.rejects(limit(async () => { throw new Error("boom"); }), /boom/);
  assert.equal(await limit(async () => "next"), "next");
});
