/**
 * X.509 times. RFC 5280 4.1.2.5: dates through 2049 MUST be UTCTime, 2050 and later GeneralizedTime, both in
 * seconds with `Z` and no fractions. Milliseconds are truncated, so callers compare against the encoded value
 * (`truncateToSeconds`) when a bound matters (a leaf's notAfter against its CA's).
 */
import { tlv, TAG } from "./writer.js";

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

export const truncateToSeconds = (ms: number): number => Math.floor(ms / 1000) * 1000;

const digits = (d: Date): string =>
  `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;

const asDate = (t: Date | number): Date => {
  const d = typeof t === "number" ? new Date(t) : t;
  if (Number.isNaN(d.getTime())) throw new RangeError("invalid date");
  return d;
};

export const utcTime = (t: Date | number): Buffer => {
  const d = asDate(t);
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError(`UTCTime cannot hold year ${y}`);
  return tlv(TAG.UTC_TIME, Buffer.from(pad(y % 100) + digits(d), "latin1"));
};

export const generalizedTime = (t: Date | number): Buffer => {
  const d = asDate(t);
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`GeneralizedTime cannot hold year ${y}`);
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(pad(y, 4) + digits(d), "latin1"));
};

/** The RFC 5280 `Time` CHOICE: UTCTime before 2050, GeneralizedTime from 2050 on. */
export const x509Time = (t: Date | number): Buffer => {
  const y = asDate(t).getUTCFullYear();
  return y >= 1950 && y < 2050 ? utcTime(t) : generalizedTime(t);
};

/** Parse the content of a UTCTime or GeneralizedTime (DER form: seconds, `Z`; fractions tolerated on read). */
export const parseTime = (tag: number, text: string): Date => {
  const m =
    tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text)
      : tag === TAG.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text)
        : null;
  if (!m) throw new RangeError(`malformed time ${JSON.stringify(text)}`);
  let year = Number(m[1]);
  if (tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900;
  const ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  const frac = tag === TAG.GENERALIZED_TIME ? /\.(\d+)Z$/.exec(text) : null;
  return new Date(ms + (frac ? Math.floor(Number(`0.${frac[1]}`) * 1000) : 0));
};
