import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../agent/fake-clock.js";
import { rateLimiterFactory } from "../../../src/core/acme/rate-limit.js";
import { AcmeProblem } from "../../../src/core/acme/problem.js";

test("a fixed window: the limit holds per key, Retry-After counts to the window's end, then it resets", () => {
  const clock = new FakeClock();
  const limits = rateLimiterFactory({ clock, windowMs: 60_000 });
  for (let i = 0; i < 3; i++) limits.take("a", 3, "orders");
  limits.take("b", 3, "orders");
  clock.t += 45_000;
  assert.throws(() => limits.take("a", 3, "orders"), (e: unknown) => e instanceof AcmeProblem && e.type === "rateLimited" && e.status === 429 && e.extra.retryAfterSeconds === 15);
  clock.t += 15_000;
  limits.take("a", 3, "orders");
});
