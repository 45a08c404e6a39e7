import type { Clock } from "../clock.js";
import { problem } from "./problem.js";

/**
 * A fixed-window counter per key (account, client IP). Kept in memory: a limit that resets when a process
 * restarts is still a limit, and it costs no database write per request. With several servers each
 * process counts its own share.
 */
export const rateLimiterFactory = ({ clock, windowMs = 3_600_000 }: { clock: Clock; windowMs?: number }) => {
  const windows = new Map<string, { start: number; count: number }>();

  /** Counts one event for `key`; over `limit` in the window it throws rateLimited with Retry-After. */
  const take = (key: string, limit: number, what: string): void => {
    const now = clock.now();
    let w = windows.get(key);
    if (!w || now - w.start >= windowMs) {
      w = { start: now, count: 0 };
      windows.set(key, w);
      if (windows.size > 10_000) for (const [k, v] of windows) if (now - v.start >= windowMs) windows.delete(k);
    }
    if (w.count >= limit) {
      const retryAfterSeconds = Math.max(1, Math.ceil((w.start + windowMs - now) / 1000));
      throw problem("rateLimited", `Too many ${what}: at most ${limit} per ${Math.round(windowMs / 60_000)} minutes; retry after ${retryAfterSeconds} s`, { retryAfterSeconds });
    }
    w.count++;
  };
  return { take };
};
export type RateLimiter = ReturnType<typeof rateLimiterFactory>;
