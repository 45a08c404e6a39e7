import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMsDuration, parseTtl } from "../../../src/core/dynamic-secrets/ttl.js";
import { ValidationError } from "../../../src/core/errors.js";

// The `ms` package's grammar, which Infisical's TTL fields use.
const durations: { name: string; input: string; ms?: number }[] = [
  { name: "minutes", input: "30m", ms: 1_800_000 },
  { name: "hours", input: "1h", ms: 3_600_000 },
  { name: "days", input: "7d", ms: 604_800_000 },
  { name: "weeks", input: "2w", ms: 1_209_600_000 },
  { name: "a year is 365.25 days", input: "1y", ms: 31_557_600_000 },
  { name: "long unit names", input: "2 hours", ms: 7_200_000 },
  { name: "upper case unit", input: "1H", ms: 3_600_000 },
  { name: "fraction", input: "1.5h", ms: 5_400_000 },
  { name: "bare number is milliseconds", input: "90000", ms: 90_000 },
  { name: "seconds", input: "2s", ms: 2000 },
  { name: "go compound is refused, as by ms", input: "1h30m" },
  { name: "unknown unit", input: "1fortnight" },
  { name: "negative", input: "-1h" },
  { name: "empty", input: "" },
];
for (const c of durations) test(`duration: ${c.name}`, () => assert.equal(parseMsDuration(c.input), c.ms));

const bounds: { name: string; input: string; min?: number; ms?: number; error?: RegExp }[] = [
  { name: "1m is the floor", input: "1m", ms: 60_000 },
  { name: "below 1m is a 422 naming the field", input: "59s", error: /^ttl: "59s" is shorter than the minimum of 1m$/ },
  { name: "10y is the ceiling", input: "10y", ms: 315_576_000_000 },
  { name: "above 10y", input: "11y", error: /longer than the maximum of 10y/ },
  { name: "not a duration", input: "soon", error: /"soon" is not a duration/ },
  { name: "a lower floor for tests", input: "2s", min: 1000, ms: 2000 },
];
for (const c of bounds)
  test(`ttl bounds: ${c.name}`, () => {
    if (c.error) {
      assert.throws(() => parseTtl("ttl", c.input, c.min), (e: unknown) => e instanceof ValidationError && c.error!.test(e.message));
    } else assert.equal(parseTtl("ttl", c.input, c.min), c.ms);
  });
