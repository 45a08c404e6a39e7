import type { Clock } from "./clock.js";

export const isoNow = (clock: Clock): string => new Date(clock.now()).toISOString();
export const isoAt = (ms: number): string => new Date(ms).toISOString();
