// Go's encoding/json Marshal and Unmarshal, base64 and base32, as the Sprig functions use them.
import { sprintf } from "./fmt.js";
import { formatFloat } from "./strconv.js";
import { floatOf, intOf, isFloatKind, isIntKind, isUintKind, kindOf, makeFloat, methodByName, putKey, structFields } from "./value.js";

export class UnsupportedValueError extends Error {}

const hexDigits = "0123456789abcdef";

/** Go's JSON string encoding, with HTML escaping (json.Marshal's default). */
export const jsonString = (s: string, escapeHTML = true): string => {
  const out: string[] = ['"'];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x22) out.push('\\"');
    else if (c === 0x5c) out.push("\\\\");
    else if (c === 0x0a) out.push("\\n");
    else if (c === 0x0d) out.push("\\r");
    else if (c === 0x09) out.push("\\t");
    else if (c < 0x20 || (escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26))) {
      out.push("\\u00", hexDigits[c >> 4], hexDigits[c & 15]);
    } else if (c === 0x2028 || c === 0x2029) out.push("\\u202", hexDigits[c & 15]);
    else out.push(ch);
  }
  out.push('"');
  return out.join("");
};

/** Go's float encoding in encoding/json: like ES Number#toString, with exponents cleaned as Go does. */
const jsonFloat = (f: number, bits: 32 | 64): string => {
  if (!Number.isFinite(f)) throw new UnsupportedValueError(sprintf("json: unsupported value: %s", formatFloat(f, "g", -1, bits)));
  const abs = Math.abs(f);
  let fmtc = "f";
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) fmtc = "e";
  let s = formatFloat(f, fmtc, -1, bits);
  if (fmtc === "e") {
    // clean up e-09 to e-9
    const n = s.length;
    if (n >= 4 && s[n - 4] === "e" && s[n - 3] === "-" && s[n - 2] === "0") s = s.slice(0, n - 2) + s.slice(n - 1);
  }
  return s;
};

/** json.Marshal: maps with sorted keys, no spaces, HTML characters escaped. */
export const jsonMarshal = (v: unknown): string => {
  const k = kindOf(v);
  if (v === null || v === undefined) return "null";
  if (isIntKind(k) || isUintKind(k)) return intOf(v).toString();
  if (isFloatKind(k)) return jsonFloat(floatOf(v), k === "float32" ? 32 : 64);
  switch (k) {
    case "bool": return v ? "true" : "false";
    case "string": return jsonString(v as string);
    case "slice": return "[" + (v as unknown[]).map(jsonMarshal).join(",") + "]";
    case "map": {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).filter((key) => o[key] !== undefined).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      return "{" + keys.map((key) => jsonString(key) + ":" + jsonMarshal(o[key])).join(",") + "}";
    }
    case "complex128": throw new UnsupportedValueError("json: unsupported type: complex128");
    case "func": throw new UnsupportedValueError("json: unsupported type: func()");
  }
  if (v instanceof Error) return "{}";
  const str = methodByName(v, "MarshalJSON");
  if (str) return String(str());
  const fields = structFields(v as object).filter(([name]) => /^\p{Lu}/u.test(name));
  return "{" + fields.map(([name, fv]) => jsonString(name) + ":" + jsonMarshal(fv)).join(",") + "}";
};

/** json.Unmarshal into interface{}: objects are maps, arrays slices, and every number a float64. */
/**
 * JSON as template data (`kms template render --data`): an integral number up to 2^53-1 is an int, any
 * other number a float64 (docs/templates.md). Beyond 2^53-1 a JS number is no longer exact, so it
 * stays the float64 Go's decoder would make rather than an int that differs from what was written.
 */
export const jsonData = (s: string): unknown => {
  const toGo = (x: unknown): unknown => {
    if (typeof x === "number") return Number.isSafeInteger(x) ? x : makeFloat(x);
    if (Array.isArray(x)) return x.map(toGo);
    // fromEntries defines each key, "__proto__" included, as an own property.
    if (x !== null && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, toGo(v)]));
    return x;
  };
  return toGo(JSON.parse(s));
};

export const jsonUnmarshal = (s: string): unknown => {
  const toGo = (x: unknown): unknown => {
    if (typeof x === "number") return makeFloat(x);
    if (Array.isArray(x)) return x.map(toGo);
    if (x !== null && typeof x === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, val] of Object.entries(x)) putKey(out, key, toGo(val));
      return out;
    }
    return x;
  };
  return toGo(JSON.parse(s));
};

const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** base64.StdEncoding.DecodeString, strict like Go: returns the data or Go's error text. */
export const base64Decode = (s: string): { ok: true; value: Buffer } | { ok: false; error: string } => {
  const stripped = s.replace(/[\r\n]/g, "");
  let i = 0;
  for (; i < stripped.length; i++) {
    const c = stripped[i];
    if (c === "=") break;
    if (!b64.includes(c)) return { ok: false, error: `illegal base64 data at input byte ${i}` };
  }
  const dataLen = i;
  const pad = stripped.length - dataLen;
  const rem = dataLen % 4;
  if (pad > 0) {
    if (!/^=+$/.test(stripped.slice(dataLen)) || rem < 2 || rem + pad !== 4) {
      return { ok: false, error: `illegal base64 data at input byte ${Math.min(dataLen + (rem === 0 ? 0 : 4 - rem), stripped.length - 1)}` };
    }
  } else if (rem !== 0) return { ok: false, error: `illegal base64 data at input byte ${dataLen - rem + (rem === 1 ? 0 : rem)}` };
  return { ok: true, value: Buffer.from(stripped, "base64") };
};

const b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** base32.StdEncoding.EncodeToString */
export const base32Encode = (data: Buffer): string => {
  let out = "";
  for (let i = 0; i < data.length; i += 5) {
    const chunk = data.subarray(i, i + 5);
    let bits = 0n;
    for (let j = 0; j < 5; j++) bits = (bits << 8n) | BigInt(chunk[j] ?? 0);
    const chars = Math.ceil((chunk.length * 8) / 5);
    for (let j = 0; j < 8; j++) {
      out += j < chars ? b32[Number((bits >> BigInt(35 - 5 * j)) & 31n)] : "=";
    }
  }
  return out;
};

