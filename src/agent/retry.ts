import { z } from "zod";
import type { Clock } from "../core/clock.js";
import { durationSchema } from "../config/duration.js";

/**
 * Retry with exponential backoff, in one place for every API call the agents make (login, token renew,
 * issue, status, renew, secret fetches). Upstream retries only logins (DESIGN.md, known defects).
 *
 * An error is retried when it says so: `retryable: true` (network errors, 429 and 5xx from the client)
 * and may carry `retryAfterMs` (the server's Retry-After). Other errors (4xx) fail at once.
 */

export const RetryStrategyConfig = z
  .strictObject({
    "max-retries": z.number().int().min(0).max(100).default(3),
    "base-delay": durationSchema.default(200),
    "max-delay": durationSchema.default(5_000),
  })
  .refine((r) => r["base-delay"] <= r["max-delay"], { message: "base-delay must not exceed max-delay", path: ["base-delay"] });
export type RetryStrategyConfig = z.output<typeof RetryStrategyConfig>;

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 3, baseDelayMs: 200, maxDelayMs: 5_000 };

export const retryPolicyFromConfig = (c: RetryStrategyConfig | undefined): RetryPolicy =>
  c ? { maxRetries: c["max-retries"], baseDelayMs: c["base-delay"], maxDelayMs: c["max-delay"] } : DEFAULT_RETRY_POLICY;

/** A server asking us to wait longer than this is not honoured in full: a daemon must keep moving. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

export const JITTER = 0.2;

/** Delay before retry number `attempt` (0 for the first retry): base·2^attempt capped at max, ±20%. */
export const backoffDelay = (attempt: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number = Math.random): number => {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt, 52));
  return Math.max(0, raw * (1 - JITTER + 2 * JITTER * random()));
};

export const isRetryable = (err: unknown): boolean =>
  typeof err === "object" && err !== null && (err as { retryable?: unknown }).retryable === true;

const retryAfterOf = (err: unknown): number | undefined => {
  const v = typeof err === "object" && err !== null ? (err as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.min(v, MAX_RETRY_AFTER_MS) : undefined;
};

export interface RetryInfo {
  /** 1-based number of the retry about to happen. */
  retry: number;
  delayMs: number;
  error: unknown;
}

export interface RetryDeps {
  clock: Clock;
  signal?: AbortSignal;
  random?: () => number;
  onRetry?: (info: RetryInfo) => void;
}

/**
 * Runs `fn` and retries retryable failures up to `policy.maxRetries` times. The last error is thrown
 * unchanged, so callers keep branching on its class.
 */
export const withRetry = async <T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, deps: RetryDeps): Promise<T> => {
  const random = deps.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    deps.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (deps.signal?.aborted) throw deps.signal.reason;
      if (!isRetryable(err) || attempt >= policy.maxRetries) throw err;
      const backoff = backoffDelay(attempt, policy, random);
      const retryAfter = retryAfterOf(err);
      // Retry-After is the server's floor; our own backoff still applies when it is longer.
      const delayMs = retryAfter !== undefined ? Math.max(retryAfter, backoff) : backoff;
      deps.onRetry?.({ retry: attempt + 1, delayMs, error: err });
      await deps.clock.sleep(delayMs, deps.signal);
    }
  }
};
