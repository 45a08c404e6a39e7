import { z } from "zod";

/**
 * Durations in Go's `time.ParseDuration` syntax (`1h30m`, `200ms`, `1.5h`), plus `d` (24h) and `y` (365d)
 * because the seeds write certificate lifetimes as `90d` and `1y`. The `ms` package cannot parse compounds
 * such as `1h30m`, hence our own parser (DESIGN.md, dependencies).
 */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3, // U+00B5 micro sign, as Go accepts
  "μs": 1e-3, // U+03BC Greek mu, as Go accepts
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  y: 365 * 86_400_000,
};

export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Parses a duration string and returns milliseconds (fractions allowed below 1 ms). */
export const parseDuration = (input: string): number => {
  const quoted = JSON.stringify(input);
  let s = input.trim();
  if (s === "") throw new DurationError(`invalid duration ${quoted}: empty`);
  let sign = 1;
  if (s[0] === "-" || s[0] === "+") {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  // Go accepts a bare "0" without a unit; any other bare number is ambiguous.
  if (s === "0") return 0;
  if (s === "") throw new DurationError(`invalid duration ${quoted}`);
  let total = 0;
  const part = /^(\d*(?:\.\d*)?)([^\d.]*)/u;
  while (s !== "") {
    const m = part.exec(s);
    const num = m?.[1] ?? "";
    const unit = m?.[2] ?? "";
    if (num === "" || num === ".") throw new DurationError(`invalid duration ${quoted}: expected a number before ${JSON.stringify(s)}`);
    if (unit === "") throw new DurationError(`missing unit in duration ${quoted} (use e.g. "${num}s", "${num}m", "${num}h" or "${num}d")`);
    const factor = UNIT_MS[unit];
    if (factor === undefined) {
      throw new DurationError(`unknown unit ${JSON.stringify(unit)} in duration ${quoted} (valid units: ns, us, ms, s, m, h, d, y)`);
    }
    total += Number(num) * factor;
    s = s.slice(num.length + unit.length);
  }
  if (!Number.isFinite(total)) throw new DurationError(`invalid duration ${quoted}: too large`);
  return sign * total;
};

/** Formats milliseconds the way Go prints durations, extended with days: 5400000 → "1h30m". */
export const formatDuration = (ms: number): string => {
  if (ms === 0) return "0s";
  const neg = ms < 0;
  let rest = Math.abs(ms);
  if (rest < 1_000) return `${neg ? "-" : ""}${+rest.toFixed(3)}ms`;
  let out = "";
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${+(rest / 1_000).toFixed(3)}s`;
  return (neg ? "-" : "") + out;
};

/** A positive duration written as a string in YAML; parses to milliseconds. */
export const durationSchema = z.string({ error: 'expected a duration string such as "10s", "6h" or "30d"' }).transform((s, ctx) => {
  try {
    const ms = parseDuration(s);
    if (ms <= 0) {
      ctx.addIssue({ code: "custom", message: `duration ${JSON.stringify(s)} must be greater than zero` });
      return z.NEVER;
    }
    return ms;
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});
