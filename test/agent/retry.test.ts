import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay, MAX_RETRY_AFTER_MS, withRetry } from "../../src/agent/retry.js";
import { KmsBadRequestError, KmsNetworkError, KmsServerError, apiErrorFor } from "../../src/client/errors.js";
import { instantClock } from "./fake-clock.js";

const policy = { maxRetries: 3, baseDelayMs: 200, maxDelayMs: 5_000 };
const api = (status: number, retryAfterMs?: number) => apiErrorFor({ method: "GET", path: "/x", status, serverMessage: "m", retryAfterMs });

test("backoff doubles from base-delay to max-delay", () => {
  const mid = () => 0.5; // no jitter
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, mid)), [200, 400, 800, 1600, 3200, 5000, 5000]);
});

test("jitter stays within ±20%", () => {
  assert.equal(backoffDelay(0, policy, () => 0), 160);
  assert.equal(Math.round(backoffDelay(0, policy, () => 1)), 240);
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay(3, policy);
    assert.ok(d >= 1280 && d <= 1920, String(d));
  }
});

const cases: { name: string; errors: unknown[]; calls: number; ok: boolean }[] = [
  { name: "network errors are retried", errors: [new KmsNetworkError("GET", "/x", new Error("ECONNREFUSED"))], calls: 2, ok: true },
  { name: "429 is retried", errors: [api(429)], calls: 2, ok: true },
  { name: "500 is retried", errors: [api(500), api(502), api(503)], calls: 4, ok: true },
  { name: "400 is not retried", errors: [api(400)], calls: 1, ok: false },
  { name: "401 is not retried", errors: [api(401)], calls: 1, ok: false },
  { name: "404 is not retried", errors: [api(404)], calls: 1, ok: false },
  { name: "422 is not retried", errors: [api(422)], calls: 1, ok: false },
  { name: "plain errors are not retried", errors: [new Error("bug")], calls: 1, ok: false },
  { name: "gives up after max-retries", errors: [api(500), api(500), api(500), api(500), api(500)], calls: 4, ok: false },
];
for (const c of cases) {
  test(`withRetry: ${c.name}`, async () => {
    const clock = instantClock();
    let calls = 0;
    const run = withRetry(
      async () => {
        const e = c.errors[calls++];
        if (e) throw e;
        return "done";
      },
      policy,
      { clock, random: () => 0.5 },
    );
    if (c.ok) assert.equal(await run, "done");
    else await assert.rejects(run);
    assert.equal(calls, c.calls);
  });
}

test("the last error is thrown unchanged, after base·2^n sleeps", async () => {
  const clock = instantClock();
  const last = api(503);
  await assert.rejects(
    withRetry(async (n) => { throw n === 3 ? last : api(500); }, policy, { clock, random: () => 0.5 }),
    (e) => e === last && e instanceof KmsServerError,
  );
  assert.deepEqual(clock.sleeps, [200, 400, 800]);
});

test("Retry-After is honoured as a floor", async () => {
  const clock = instantClock();
  let n = 0;
  await withRetry(async () => { if (n++ === 0) throw api(429, 3_000); return 1; }, policy, { clock, random: () => 0.5 });
  assert.deepEqual(clock.sleeps, [3_000]);
});

test("a huge Retry-After is capped", async () => {
  const clock = instantClock();
  let n = 0;
  await withRetry(async () => { if (n++ === 0) throw api(503, 86_400_000); return 1; }, policy, { clock, random: () => 0.5 });
  assert.deepEqual(clock.sleeps, [MAX_RETRY_AFTER_MS]);
});

test("max-retries 0 means one attempt", async () => {
  const clock = instantClock();
  let calls = 0;
  await assert.rejects(withRetry(async () => { calls++; throw api(500); }, { ...policy, maxRetries: 0 }, { clock }));
  assert.equal(calls, 1);
});

test("onRetry hears about each retry", async () => {
  const clock = instantClock();
  const seen: number[] = [];
  let n = 0;
  await withRetry(async () => { if (n++ < 2) throw api(500); return 1; }, policy, { clock, random: () => 0.5, onRetry: (i) => seen.push(i.retry) });
  assert.deepEqual(seen, [1, 2]);
});

test("an abort stops retrying", async () => {
  const clock = instantClock();
  const ac = new AbortController();
  let calls = 0;
  await assert.rejects(
    withRetry(async () => { calls++; ac.abort(new Error("stop")); throw api(500); }, policy, { clock, signal: ac.signal }),
    /stop/,
  );
  assert.equal(calls, 1);
});

test("client errors carry retryable flags", () => {
  assert.equal(new KmsBadRequestError({ method: "GET", path: "/", status: 400, serverMessage: "x" }).retryable, false);
  assert.equal(api(429).retryable, true);
  assert.equal(api(500).retryable, true);
  assert.equal(new KmsNetworkError("GET", "/", new Error("x")).retryable, true);
});
