import { setTimeout as delay } from "node:timers/promises";

/** Time comes from a clock, so schedulers and services can be tested in seconds (STYLE.md rule 2). */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(Math.max(0, ms), undefined, { signal }),
};
