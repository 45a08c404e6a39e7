import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../../src/core/clock.js";
import { silentLogger } from "../../../src/agent/log.js";
import { createSinkSet } from "../../../src/agent/secrets/token-sinks.js";
import type { Sink } from "../../../src/agent/sinks/sink.js";

const memorySink = (name: string, opts: { failFirst?: number; delayMs?: number } = {}) => {
  const writes: string[] = [];
  let failures = opts.failFirst ?? 0;
  const sink: Sink = {
    name,
    write: async (t) => {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (failures > 0) {
        failures--;
        throw new Error("disk full");
      }
      writes.push(t);
    },
  };
  return { sink, writes };
};

test("each sink gets the latest token; one written while a slow write runs is not lost, older ones are skipped", async () => {
  const slow = memorySink("slow", { delayMs: 30 });
  const set = createSinkSet([slow.sink], { clock: systemClock, logger: silentLogger });
  set.deliver("t1");
  set.deliver("t2");
  set.deliver("t3");
  const r = await set.settle(2_000);
  assert.deepEqual(r, [{ sink: "slow", ok: true }]);
  assert.equal(slow.writes.at(-1), "t3");
  assert.ok(!slow.writes.includes("t2"), `wrote ${slow.writes}`);
});

test("a failing sink is retried with backoff and never holds up the others", async () => {
  const flaky = memorySink("flaky", { failFirst: 2 });
  const good = memorySink("good");
  const set = createSinkSet([flaky.sink, good.sink], { clock: systemClock, logger: silentLogger, random: () => 0 });
  set.deliver("tok");
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(good.writes, ["tok"]);
  const r = await set.settle(5_000);
  assert.deepEqual(r.map((x) => x.ok), [true, true]);
  assert.deepEqual(flaky.writes, ["tok"]);
});

test("settle reports a sink that is still failing, with its error", async () => {
  const broken = memorySink("broken", { failFirst: 1_000 });
  const set = createSinkSet([broken.sink], { clock: systemClock, logger: silentLogger });
  set.deliver("tok");
  const [r] = await set.settle(100);
  assert.equal(r!.ok, false);
  assert.match(r!.error!.message, /disk full/);
  await set.halt();
});
