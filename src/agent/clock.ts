import { setTimeout as delay } from "node:timers/promises";
import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";

/**
 * Node's timers hold at most 2^31-1 ms (~24.8 days): a longer delay draws a TimeoutOverflowWarning and fires
 * after 1 ms. Agent delays come from configuration (`status-check-interval: 30d`, a hook `timeout` of
 * 3000000 seconds), so a long one must still be long: it is slept in chunks that each fit a timer.
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

/** The agents' clock: the system's, with sleeps of any length. */
export const agentClock: Clock = {
  now: systemClock.now,
  sleep: (ms, signal) => sleepInChunks(ms, signal),
};
