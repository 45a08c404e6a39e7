// The parts of Go's strconv that text/template and fmt lean on: Quote/Unquote, ParseInt/ParseUint/
// ParseFloat with Go literal syntax, and FormatFloat with Go's exact (round-half-even) rounding.
// Go strings are bytes; ours are UTF-16, so escapes that name bytes (\xff) are gathered as bytes and
// decoded as UTF-8 at the end, which is what a Go string holding those bytes prints as.

export class SyntaxError_ extends Error {
  constructor(readonly fn: string, readonly input: string) {
    super("invalid syntax");
  }
}

const isPrintRe = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export const isPrint = (r: number): boolean => {
  if (r < 0x20 || r === 0x7f) return false;
  if (r < 0x7f) return true;
  return isPrintRe.test(String.fromCodePoint(r));
};

const hex = "0123456789abcdef";

const appendEscapedRune = (out: string[], r: number, quote: number, asciiOnly: boolean): void => {
  if (r === quote || r === 0x5c) {
    out.push("\\", String.fromCodePoint(r));
    return;
  }
  if (asciiOnly ? r < 0x80 && isPrint(r) : isPrint(r)) {
    out.push(String.fromCodePoint(r));
    return;
  }
  switch (r) {
    case 0x07: out.push("\\a"); return;
    case 0x08: out.push("\\b"); return;
    case 0x0c: out.push("\\f"); return;
    case 0x0a: out.push("\\n"); return;
    case 0x0d: out.push("\\r"); return;
    case 0x09: out.push("\\t"); return;
    case 0x0b: out.push("\\v"); return;
  }
  if (r < 0x20 || r === 0x7f) out.push("\\x", hex[r >> 4], hex[r & 15]);
  else if (r === 0xfffd) out.push("\\ufffd");
  else if (r > 0xffff) out.push("\\U", r.toString(16).padStart(8, "0"));
  else out.push("\\u", r.toString(16).padStart(4, "0"));
};

const quoteWith = (s: string, quote: number, asciiOnly: boolean): string => {
  const out: string[] = [String.fromCharCode(quote)];
  for (const ch of s) appendEscapedRune(out, ch.codePointAt(0)!, quote, asciiOnly);
  out.push(String.fromCharCode(quote));
  return out.join("");
};

/** strconv.Quote */
export const quote = (s: string): string => quoteWith(s, 0x22, false);
/** strconv.QuoteToASCII */
export const quoteToASCII = (s: string): string => quoteWith(s, 0x22, true);
/** strconv.QuoteRune */
export const quoteRune = (r: number): string => quoteWith(String.fromCodePoint(validRune(r)), 0x27, false);
export const quoteRuneToASCII = (r: number): string => quoteWith(String.fromCodePoint(validRune(r)), 0x27, true);
const validRune = (r: number): number => (r < 0 || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff) ? 0xfffd : r);

/** strconv.CanBackquote */
export const canBackquote = (s: string): boolean => {
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (r === 0xfeff) return false;
    if ((r < 0x20 && r !== 0x09) || r === 0x60 || r === 0x7f) return false;
  }
  return true;
};

const unhex = (c: string): number => {
  const i = hex.indexOf(c.toLowerCase());
  return i;
};

/**
 * strconv.UnquoteChar: decodes the first character or escape in s. Returns the value, whether it is a
 * multi-byte rune (false: value is a single byte from \x or octal) and the tail.
 */
export const unquoteChar = (s: string, quoteChar: number): { value: number; multibyte: boolean; tail: string } => {
  const c = s.codePointAt(0);
  if (c === undefined) throw new SyntaxError_("UnquoteChar", s);
  if (c === quoteChar && (quoteChar === 0x27 || quoteChar === 0x22)) throw new SyntaxError_("UnquoteChar", s);
  if (c >= 0x80) return { value: c, multibyte: true, tail: s.slice(c > 0xffff ? 2 : 1) };
  if (c !== 0x5c) return { value: c, multibyte: false, tail: s.slice(1) };
  if (s.length <= 1) throw new SyntaxError_("UnquoteChar", s);
  const e = s[1];
  let tail = s.slice(2);
  switch (e) {
    case "a": return { value: 7, multibyte: false, tail };
    case "b": return { value: 8, multibyte: false, tail };
    case "f": return { value: 12, multibyte: false, tail };
    case "n": return { value: 10, multibyte: false, tail };
    case "r": return { value: 13, multibyte: false, tail };
    case "t": return { value: 9, multibyte: false, tail };
    case "v": return { value: 11, multibyte: false, tail };
    case "x":
    case "u":
    case "U": {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      if (tail.length < n) throw new SyntaxError_("UnquoteChar", s);
      let v = 0;
      for (let j = 0; j < n; j++) {
        const x = unhex(tail[j]);
        if (x < 0) throw new SyntaxError_("UnquoteChar", s);
        v = v * 16 + x;
      }
      tail = tail.slice(n);
      if (e === "x") return { value: v, multibyte: false, tail };
      if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new SyntaxError_("UnquoteChar", s);
      return { value: v, multibyte: true, tail };
    }
    case "0": case "1": case "2": case "3": case "4": case "5": case "6": case "7": {
      let v = e.charCodeAt(0) - 0x30;
      if (tail.length < 2) throw new SyntaxError_("UnquoteChar", s);
      for (let j = 0; j < 2; j++) {
        const x = tail.charCodeAt(j) - 0x30;
        if (x < 0 || x > 7) throw new SyntaxError_("UnquoteChar", s);
        v = v * 8 + x;
      }
      if (v > 255) throw new SyntaxError_("UnquoteChar", s);
      return { value: v, multibyte: false, tail: tail.slice(2) };
    }
    case "\\": return { value: 0x5c, multibyte: false, tail };
    case "'":
    case '"':
      if (e.charCodeAt(0) !== quoteChar) throw new SyntaxError_("UnquoteChar", s);
      return { value: e.charCodeAt(0), multibyte: false, tail };
  }
  throw new SyntaxError_("UnquoteChar", s);
};

const encodeRune = (bytes: number[], r: number): void => {
  for (const b of Buffer.from(String.fromCodePoint(r), "utf8")) bytes.push(b);
};

/** strconv.Unquote for "...", `...` and '...'. Throws SyntaxError_ ("invalid syntax"). */
export const unquote = (s: string): string => {
  const n = s.length;
  if (n < 2) throw new SyntaxError_("Unquote", s);
  const q = s[0];
  if (q !== s[n - 1]) throw new SyntaxError_("Unquote", s);
  const body = s.slice(1, n - 1);
  if (q === "`") {
    if (body.includes("`")) throw new SyntaxError_("Unquote", s);
    return body.replaceAll("\r", "");
  }
  if (q !== '"' && q !== "'") throw new SyntaxError_("Unquote", s);
  if (body.includes("\n")) throw new SyntaxError_("Unquote", s);
  if (!body.includes("\\") && !body.includes(q)) {
    if (q === '"') return body;
    if (q === "'" && [...body].length === 1) return body;
  }
  const bytes: number[] = [];
  let rest = body;
  while (rest.length > 0) {
    const { value, multibyte, tail } = unquoteChar(rest, q.charCodeAt(0));
    rest = tail;
    if (value < 0x80 || !multibyte) {
      if (value < 0x80) bytes.push(value);
      else bytes.push(value & 0xff);
    } else encodeRune(bytes, value);
    if (q === "'" && rest.length !== 0) throw new SyntaxError_("Unquote", s);
  }
  return Buffer.from(bytes).toString("utf8");
};

// Go's underscoreOK: underscores only between digits, or between a base prefix and a digit.
const underscoreOK = (s0: string): boolean => {
  let s = s0;
  let saw = "^";
  let i = 0;
  if (s.length >= 1 && (s[0] === "-" || s[0] === "+")) s = s.slice(1);
  let hexa = false;
  if (s.length >= 2 && s[0] === "0" && "bBoOxX".includes(s[1])) {
    i = 2;
    saw = "0";
    hexa = s[1] === "x" || s[1] === "X";
  }
  for (; i < s.length; i++) {
    const c = s[i];
    if ((c >= "0" && c <= "9") || (hexa && /[a-fA-F]/.test(c))) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
};

export type ParseIntResult = { ok: true; value: bigint } | { ok: false; range: boolean };

const MAX_UINT64 = (1n << 64n) - 1n;
const MAX_INT64 = (1n << 63n) - 1n;

/** strconv.ParseUint(s, 0, 64) */
export const parseUint = (s: string): ParseIntResult => {
  if (s === "") return { ok: false, range: false };
  let base = 10;
  let body = s;
  if (s[0] === "0") {
    if (s.length >= 3 && (s[1] === "x" || s[1] === "X")) { base = 16; body = s.slice(2); }
    else if (s.length >= 3 && (s[1] === "o" || s[1] === "O")) { base = 8; body = s.slice(2); }
    else if (s.length >= 3 && (s[1] === "b" || s[1] === "B")) { base = 2; body = s.slice(2); }
    else { base = 8; body = s.slice(1); }
  }
  let underscores = false;
  let n = 0n;
  const b = BigInt(base);
  for (const c of body) {
    if (c === "_") { underscores = true; continue; }
    const d = parseInt(c, 36);
    if (Number.isNaN(d) || d >= base) return { ok: false, range: false };
    n = n * b + BigInt(d);
  }
  if (underscores && !underscoreOK(s)) return { ok: false, range: false };
  if (n > MAX_UINT64) return { ok: false, range: true };
  return { ok: true, value: n };
};

/** strconv.ParseInt(s, 0, 64) */
export const parseInt64 = (s: string): ParseIntResult => {
  if (s === "") return { ok: false, range: false };
  let neg = false;
  let body = s;
  if (s[0] === "+" || s[0] === "-") { neg = s[0] === "-"; body = s.slice(1); }
  const u = parseUint(body);
  if (!u.ok) return u;
  const cutoff = neg ? MAX_INT64 + 1n : MAX_INT64;
  if (u.value > cutoff) return { ok: false, range: true };
  return { ok: true, value: neg ? -u.value : u.value };
};

/** strconv.ParseFloat(s, 64) for Go number syntax (decimal and hexadecimal mantissas). */
export const parseFloat64 = (s: string): { ok: true; value: number } | { ok: false } => {
  let body = s;
  let sign = 1;
  if (body[0] === "+" || body[0] === "-") { sign = body[0] === "-" ? -1 : 1; body = body.slice(1); }
  const lower = body.toLowerCase();
  if (lower === "inf" || lower === "infinity") return { ok: true, value: sign * Infinity };
  if (lower === "nan") return { ok: true, value: NaN };
  if (body.includes("_")) {
    if (!underscoreOK(s)) return { ok: false };
    body = body.replaceAll("_", "");
  }
  if (/^0[xX]/.test(body)) {
    const m = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(body);
    if (!m || (m[1] === "" && (m[2] ?? "") === "")) return { ok: false };
    const digits = m[1] + (m[2] ?? "");
    let mant = digits === "" ? 0n : BigInt("0x" + digits);
    let exp = Number(m[3]) - 4 * (m[2] ?? "").length;
    // Keep the conversion exact: scale by powers of two only.
    let v = Number(mant);
    if (mant > 1n << 53n) {
      const shift = mant.toString(2).length - 60;
      if (shift > 0) { mant >>= BigInt(shift); exp += shift; v = Number(mant); }
    }
    return { ok: true, value: sign * v * Math.pow(2, exp) };
  }
  if (!/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(body)) return { ok: false };
  const v = Number(body);
  if (!Number.isFinite(v)) return { ok: false };
  return { ok: true, value: sign * v };
};

// ---- FormatFloat ----

/** Decimal digits of |x| and the position of the decimal point (digits "123", dp 1 means 1.23). */
export interface Digits { d: string; dp: number; neg: boolean }

/** The exact decimal expansion of a finite double. */
const exactDigits = (x: number): Digits => {
  const neg = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  if (ax === 0) return { d: "", dp: 0, neg };
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, ax);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e2: number;
  if (bexp === 0) e2 = -1074;
  else { mant |= 1n << 52n; e2 = bexp - 1075; }
  let digits: string;
  let dp: number;
  if (e2 >= 0) {
    digits = (mant << BigInt(e2)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-e2)).toString();
    dp = digits.length + e2;
  }
  const trimmed = digits.replace(/0+$/, "");
  return { d: trimmed, dp, neg };
};

/** Shortest digits that round-trip, as Go's strconv (and JS's Number#toString) choose them. */
const shortestDigits = (x: number): Digits => {
  const neg = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  if (ax === 0) return { d: "", dp: 0, neg };
  const [m, e] = ax.toExponential().split("e");
  const d = m.replace(".", "").replace(/0+$/, "");
  return { d, dp: Number(e) + 1, neg };
};

/** Round to nd significant digits, half to even on an exact tie (Go's decimal.Round). */
const roundDigits = (dg: Digits, nd: number): Digits => {
  if (nd < 0) return { d: "", dp: dg.dp, neg: dg.neg };
  if (nd >= dg.d.length) return dg;
  const next = dg.d.charCodeAt(nd) - 48;
  let up: boolean;
  if (next > 5) up = true;
  else if (next < 5) up = false;
  else if (nd + 1 < dg.d.length) up = true;
  else up = nd > 0 && (dg.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  let d = dg.d.slice(0, nd);
  let dp = dg.dp;
  if (up) {
    const arr = d.split("").map((c) => c.charCodeAt(0) - 48);
    let i = arr.length - 1;
    while (i >= 0 && arr[i] === 9) { arr[i] = 0; i--; }
    if (i < 0) { arr.unshift(1); arr.pop(); dp++; if (arr.length === 0) arr.push(1); }
    else arr[i]++;
    d = arr.join("");
  }
  return { d: d.replace(/0+$/, ""), dp, neg: dg.neg };
};

const digitAt = (dg: Digits, i: number): string => (i >= 0 && i < dg.d.length ? dg.d[i] : "0");

const fmtE = (dg: Digits, prec: number, fmtc: string): string => {
  const out: string[] = [];
  out.push(digitAt(dg, 0));
  if (prec > 0) {
    out.push(".");
    for (let i = 1; i <= prec; i++) out.push(digitAt(dg, i));
  }
  out.push(fmtc);
  let exp = dg.d.length === 0 ? 0 : dg.dp - 1;
  out.push(exp < 0 ? "-" : "+");
  exp = Math.abs(exp);
  out.push(exp < 10 ? "0" + exp : String(exp));
  return out.join("");
};

const fmtF = (dg: Digits, prec: number): string => {
  const out: string[] = [];
  if (dg.dp > 0) {
    for (let i = 0; i < dg.dp; i++) out.push(digitAt(dg, i));
  } else out.push("0");
  if (prec > 0) {
    out.push(".");
    for (let i = 1; i <= prec; i++) out.push(digitAt(dg, dg.dp + i - 1));
  }
  return out.join("");
};

/** The float's bits as ftoa.go's genericFtoa reads them: sign, mantissa with its implicit 1, unbiased exponent. */
const floatBits = (x: number, bitSize: number): { neg: boolean; mant: bigint; exp: number; mantbits: number } => {
  const [mantbits, expbits, bias] = bitSize === 32 ? [23, 8, -127] : [52, 11, -1023];
  const buf = new DataView(new ArrayBuffer(8));
  let bits: bigint;
  if (bitSize === 32) {
    buf.setFloat32(0, x);
    bits = BigInt(buf.getUint32(0));
  } else {
    buf.setFloat64(0, x);
    bits = buf.getBigUint64(0);
  }
  const neg = bits >> BigInt(mantbits + expbits) !== 0n;
  let exp = Number((bits >> BigInt(mantbits)) & ((1n << BigInt(expbits)) - 1n));
  let mant = bits & ((1n << BigInt(mantbits)) - 1n);
  if (exp === 0) exp++; // denormal
  else mant |= 1n << BigInt(mantbits);
  return { neg, mant, exp: exp + bias, mantbits };
};

/** %b: -ddddddddp±ddd (ftoa.go fmtB). */
const fmtB = (x: number, bitSize: number): string => {
  const { neg, mant, exp, mantbits } = floatBits(x, bitSize);
  const e = exp - mantbits;
  return `${neg ? "-" : ""}${mant}p${e >= 0 ? "+" : ""}${e}`;
};

/** %x: -0x1.yyyyyyyyp±ddd or -0x0p+00 (ftoa.go fmtX). */
const fmtX = (x: number, prec: number, fmtc: string, bitSize: number): string => {
  const info = floatBits(x, bitSize);
  let { mant, exp } = info;
  if (mant === 0n) exp = 0;
  const bit60 = 1n << 60n;
  // Shift digits so the leading 1 (if any) is at bit 60.
  mant <<= BigInt(60 - info.mantbits);
  while (mant !== 0n && (mant & bit60) === 0n) {
    mant <<= 1n;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & (bit60 - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant <<= 60n - shift;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const hex = fmtc === "X" ? "0123456789ABCDEF" : "0123456789abcdef";
  let out = `${info.neg ? "-" : ""}0${fmtc}${(mant >> 60n) & 1n}`;
  mant = (mant << 4n) & ((1n << 64n) - 1n);
  const digit = () => {
    const d = hex[Number((mant >> 60n) & 15n)];
    mant = (mant << 4n) & ((1n << 64n) - 1n);
    return d;
  };
  if (prec < 0 && mant !== 0n) {
    out += ".";
    while (mant !== 0n) out += digit();
  } else if (prec > 0) {
    out += ".";
    for (let i = 0; i < prec; i++) out += digit();
  }
  out += fmtc === "X" ? "P" : "p";
  out += exp < 0 ? "-" : "+";
  return out + String(Math.abs(exp)).padStart(2, "0");
};

/** strconv.FormatFloat(x, fmt, prec, 64) for fmt in b e E f F g G x X; prec -1 means shortest. */
export const formatFloat = (x: number, fmtc: string, prec: number, bitSize = 64): string => {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  if (bitSize === 32) x = Math.fround(x);
  if (fmtc === "b") return fmtB(x, bitSize);
  if (fmtc === "x" || fmtc === "X") return fmtX(x, prec, fmtc, bitSize);
  const shortest = prec < 0;
  let dg: Digits;
  if (shortest) {
    dg = bitSize === 32 ? shortest32(x) : shortestDigits(x);
    switch (fmtc) {
      case "e": case "E": prec = Math.max(dg.d.length - 1, 0); break;
      case "f": case "F": prec = Math.max(dg.d.length - dg.dp, 0); break;
      case "g": case "G": prec = dg.d.length; break;
    }
  } else {
    const exact = exactDigits(x);
    switch (fmtc) {
      case "e": case "E": dg = roundDigits(exact, prec + 1); break;
      case "f": case "F": dg = roundDigits(exact, exact.dp + prec); break;
      default: {
        if (prec === 0) prec = 1;
        dg = roundDigits(exact, prec);
      }
    }
  }
  const sign = dg.neg ? "-" : "";
  switch (fmtc) {
    case "e": case "E": return sign + fmtE(dg, prec, fmtc);
    case "f": case "F": return sign + fmtF(dg, prec);
    default: {
      let eprec = prec;
      const nd = dg.d.length;
      if (eprec > nd && nd >= dg.dp) eprec = nd;
      if (shortest) eprec = 6;
      const exp = dg.dp - 1;
      if (nd === 0 ? false : exp < -4 || exp >= eprec) {
        if (prec > nd) prec = nd;
        return sign + fmtE(dg, prec - 1, fmtc === "G" ? "E" : "e");
      }
      if (prec > dg.dp) prec = nd;
      return sign + fmtF(dg, Math.max(prec - dg.dp, 0));
    }
  }
};

const shortest32 = (x: number): Digits => {
  const neg = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  if (ax === 0) return { d: "", dp: 0, neg };
  for (let p = 1; p <= 17; p++) {
    const s = ax.toExponential(p - 1);
    if (Math.fround(Number(s)) === ax) {
      const [m, e] = s.split("e");
      return { d: m.replace(".", "").replace(/0+$/, ""), dp: Number(e) + 1, neg };
    }
  }
  return shortestDigits(x);
};
