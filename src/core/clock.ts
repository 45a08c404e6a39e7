import { setTimeout as delay } from "node:timers/promises";

/** Time comes from a clock, so schedulers and services can be tested in seconds (STYLE.md rule 2). */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Node's timers hold at most 2^31-1 ms (~24.8 days): a longer delay draws a TimeoutOverflowWarning and fires
 * after 1 ms. Delays come from configuration (`status-check-interval: 30d`, a hook `timeout` of 3000000
 * seconds, a lease's TTL), so a long one must still be long: it is slept in chunks that each fit a timer.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const sleepInChunks = async (
  ms: number,
  signal?: AbortSignal,
  sleep: (ms: number, signal?: AbortSignal) => Promise<unknown> = (m, s) => delay(m, undefined, { signal: s }),
  chunkMs = MAX_TIMER_MS,
): Promise<void> => {
  let left = Number.isNaN(ms) ? 0 : Math.max(0, ms);
  do {
    const step = Math.min(left, chunkMs);
    await sleep(step, signal);
    left -= step;
  } while (left > 0);
};

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleepInChunks(ms, signal),
};
