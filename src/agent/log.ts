import type { Writable } from "node:stream";
import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";

/**
 * The agents' logger: one human-readable line per event by default (an operator reads journald), one
 * JSON object per line with `--log-format json` (a collector reads it). Every field passes through
 * `redact`, so a token, client secret or private key never reaches a log line (DESIGN.md, house rules).
 * Written by hand rather than with pino: pino's redaction needs fixed paths, and its human format
 * needs pino-pretty; we need key-pattern redaction and both formats with no extra package.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  format?: "text" | "json";
  level?: LogLevel;
  stream?: Pick<Writable, "write">;
  clock?: Clock;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SECRET_KEY = /token|secret|password|passphrase|private[-_]?key|privatekey|authorization|credential|^csr$|^key$/i;
const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
// user:password@ in a URL (kms.address may carry basic-auth credentials for a proxy in front of the KMS).
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]*@/gi;
export const REDACTED = "[REDACTED]";

/** Replaces secret-looking fields and embedded private keys or bearer tokens with a marker. */
export const redact = (value: unknown, key = "", depth = 0): unknown => {
  if (key !== "" && SECRET_KEY.test(key) && value !== undefined && value !== null && value !== "") return REDACTED;
  if (typeof value === "string") return value.replace(PEM_PRIVATE, REDACTED).replace(BEARER, `$1${REDACTED}`).replace(URL_CREDENTIALS, `$1${REDACTED}@`);
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message, "", depth + 1) };
  }
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, "", depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redact(v, k, depth + 1);
  return out;
};

const textValue = (v: unknown): string => {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === "object" && v !== null) return JSON.stringify(v);
  return String(v);
};

export const createLogger = (opts: LoggerOptions = {}, bound: LogFields = {}): Logger => {
  const format = opts.format ?? "text";
  const min = ORDER[opts.level ?? "info"];
  const stream = opts.stream ?? process.stderr;
  const clock = opts.clock ?? systemClock;

  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const time = new Date(clock.now()).toISOString();
    const all = redact({ ...bound, ...fields }) as LogFields;
    const message = redact(msg) as string;
    let line: string;
    if (format === "json") {
      line = JSON.stringify({ time, level, msg: message, ...all });
    } else {
      const kv = Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`)
        .join(" ");
      line = `${time} ${level.toUpperCase().padEnd(5)} ${message}${kv ? ` ${kv}` : ""}`;
    }
    stream.write(`${line}\n`);
  };

  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(opts, { ...bound, ...fields }),
  };
};

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
