/**
 * X.509 times. RFC 5280 4.1.2.5: dates through 2049 MUST be UTCTime, 2050 and later GeneralizedTime, both in
 * seconds with `Z` and no fractions. Milliseconds are truncated, so callers compare against the encoded value
 * (`truncateToSeconds`) when a bound matters (a leaf's notAfter against its CA's).
 */
import { TAG } from "./writer.js";

export const truncateToSeconds = (ms: number): number => Math.floor(ms / 1000) * 1000;

/** Writes [year digits] MMDDHHMMSS Z straight into the TLV: this runs twice per certificate. */
const encodeTime = (tag: number, d: Date, yearDigits: 2 | 4): Buffer => {
  const len = yearDigits + 11;
  const out = Buffer.allocUnsafe(2 + len);
  out[0] = tag;
  out[1] = len;
  let p = 2;
  const put = (n: number, w: number): void => {
    for (let i = w - 1; i >= 0; i--, n = Math.floor(n / 10)) out[p + i] = 0x30 + (n % 10);
    p += w;
  };
  put(yearDigits === 2 ? d.getUTCFullYear() % 100 : d.getUTCFullYear(), yearDigits);
  put(d.getUTCMonth() + 1, 2);
  put(d.getUTCDate(), 2);
  put(d.getUTCHours(), 2);
  put(d.getUTCMinutes(), 2);
  put(d.getUTCSeconds(), 2);
  out[p] = 0x5a; // Z
  return out;
};

const asDate = (t: Date | number): Date => {
  const d = typeof t === "number" ? new Date(t) : t;
  if (Number.isNaN(d.getTime())) throw new RangeError("invalid date");
  return d;
};

export const utcTime = (t: Date | number): Buffer => {
  const d = asDate(t);
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError(`UTCTime cannot hold year ${y}`);
  return encodeTime(TAG.UTC_TIME, d, 2);
};

export const generalizedTime = (t: Date | number): Buffer => {
  const d = asDate(t);
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`GeneralizedTime cannot hold year ${y}`);
  return encodeTime(TAG.GENERALIZED_TIME, d, 4);
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
