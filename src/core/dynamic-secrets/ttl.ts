import { ValidationError } from "../errors.js";

/**
 * TTLs on the dynamic-secret routes are `ms`-style strings ("30m", "1h", "7d", "1y"; a bare number is
 * milliseconds), because Infisical parses them with the `ms` package and clients send what it accepts.
 * Go-style compounds such as "1h30m" are refused, as `ms` refuses them.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000,
  // `ms` counts a year as 365.25 days.
  y: 31_557_600_000,
};
const ALIASES: Record<string, string> = {
  milliseconds: "ms", millisecond: "ms", msecs: "ms", msec: "ms", ms: "ms",
  seconds: "s", second: "s", secs: "s", sec: "s", s: "s",
  minutes: "m", minute: "m", mins: "m", min: "m", m: "m",
  hours: "h", hour: "h", hrs: "h", hr: "h", h: "h",
  days: "d", day: "d", d: "d", weeks: "w", week: "w", w: "w",
  years: "y", year: "y", yrs: "y", yr: "y", y: "y",
};
const DURATION = /^((?:\d+)?\.?\d+) *([a-z]+)?$/i;

/** Milliseconds of an `ms`-style duration, or undefined when `ms` would not parse it either. */
export const parseMsDuration = (text: string): number | undefined => {
  if (text.length > 100) return undefined;
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2] === undefined ? "ms" : ALIASES[m[2].toLowerCase()];
  if (!unit) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[unit]!);
};

export const MAX_TTL_MS = 10 * UNIT_MS.y!;
export const DEFAULT_MIN_TTL_MS = UNIT_MS.m!;

const describe = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/**
 * Parses a TTL field and enforces the bounds of api.md 5 (at least 1m, at most 10y). A violation is a 422
 * whose issue names the field, like the route's schema errors.
 */
export const parseTtl = (field: string, text: string, minMs: number = DEFAULT_MIN_TTL_MS): number => {
  const fail = (message: string): never => {
    throw new ValidationError(`${field}: ${message}`, [{ code: "custom", path: [field], message }]);
  };
  const ms = parseMsDuration(text);
  if (ms === undefined) return fail(`"${text}" is not a duration: expected a number and a unit, e.g. "30m", "1h", "7d"`);
  if (ms < minMs) fail(`"${text}" is shorter than the minimum of ${describe(minMs)}`);
  if (ms > MAX_TTL_MS) fail(`"${text}" is longer than the maximum of 10y`);
  return ms;
};
