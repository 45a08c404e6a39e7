import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, parseDuration } from "../../src/config/duration.js";

const cases: { name: string; input: string; ms?: number; error?: RegExp }[] = [
  { name: "milliseconds", input: "200ms", ms: 200 },
  { name: "seconds", input: "10s", ms: 10_000 },
  { name: "minutes", input: "30m", ms: 1_800_000 },
  { name: "hours", input: "6h", ms: 21_600_000 },
  { name: "days", input: "1d", ms: 86_400_000 },
  { name: "ninety days", input: "90d", ms: 7_776_000_000 },
  { name: "year is 365 days", input: "1y", ms: 31_536_000_000 },
  { name: "go compound", input: "1h30m", ms: 5_400_000 },
  { name: "compound with days", input: "1d12h", ms: 129_600_000 },
  { name: "fraction", input: "1.5h", ms: 5_400_000 },
  { name: "leading dot fraction", input: ".5s", ms: 500 },
  { name: "microseconds", input: "1500us", ms: 1.5 },
  { name: "micro sign", input: "1000µs", ms: 1 },
  { name: "nanoseconds", input: "2000000ns", ms: 2 },
  { name: "bare zero", input: "0", ms: 0 },
  { name: "explicit plus", input: "+5s", ms: 5_000 },
  { name: "negative", input: "-5s", ms: -5_000 },
  { name: "surrounding spaces are trimmed", input: " 10s ", ms: 10_000 },
  { name: "72h as in the seed", input: "72h", ms: 259_200_000 },
  { name: "unknown unit is named", input: "1hour", error: /unknown unit "hour"/ },
  { name: "unknown unit w", input: "2w", error: /unknown unit "w"/ },
  { name: "uppercase unit is unknown", input: "10S", error: /unknown unit "S"/ },
  { name: "space before unit", input: "90 days", error: /unknown unit " days"/ },
  { name: "missing unit", input: "90", error: /missing unit in duration "90"/ },
  { name: "missing unit after compound", input: "1h30", error: /missing unit/ },
  { name: "empty", input: "", error: /invalid duration "": empty/ },
  { name: "unit only", input: "h", error: /expected a number/ },
  { name: "sign only", input: "-", error: /invalid duration/ },
  { name: "lone dot", input: ".s", error: /expected a number/ },
];

for (const c of cases) {
  test(`parseDuration: ${c.name}`, () => {
    if (c.error) assert.throws(() => parseDuration(c.input), c.error);
    else assert.equal(parseDuration(c.input), c.ms);
  });
}

const formats: [number, string][] = [
  [0, "0s"],
  [200, "200ms"],
  [10_000, "10s"],
  [5_400_000, "1h30m"],
  [7_776_000_000, "90d"],
  [90_061_500, "1d1h1m1.5s"],
];
for (const [ms, s] of formats) {
  test(`formatDuration: ${ms} → ${s}`, () => {
    assert.equal(formatDuration(ms), s);
    assert.equal(parseDuration(s), ms);
  });
}
