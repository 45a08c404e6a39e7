// A subset of Sprig (Masterminds/sprig v3), with Sprig's Go signatures so argument errors read as
// they do in Go, plus Helm's toYaml. env and expandenv are left out on purpose: a template must not
// read the agent's environment. docs/templates.md lists the functions.
import { createHash } from "node:crypto";
import { Document, visit } from "yaml";
import { base32Encode, base64Decode, jsonMarshal, jsonUnmarshal } from "./encoding.js";
import { sprintf } from "./fmt.js";
import type { FuncMap } from "./funcs.js";
import { parseFloat64, parseInt64, parseUint } from "./strconv.js";
import type { GoTime } from "./time.js";
import { formatGoTime, localTime } from "./time.js";
import type { Signature } from "./value.js";
import { putKey } from "./value.js";
import {
  GoComplex, GoNumber, floatOf, goFunc, intOf, isFloatKind, isIntKind, isStruct, isUintKind, kindOf, makeInt,
  methodByName, withGoType,
} from "./value.js";

export interface SprigOptions {
  /** The clock for now and date; milliseconds since the epoch. */
  now?: () => number;
}

const S = "string";
const I = "interface {}";
const M = "map[string]interface {}";
const sig = (ins: string[], out: string, variadic = false): Signature => ({ in: ins, out, variadic });

/** strval: how Sprig turns any value into a string. */
const strval = (v: unknown): string => {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.message;
  const str = methodByName(v, "Error") ?? methodByName(v, "String");
  if (str) return String(str());
  return sprintf("%v", v);
};

/** empty: Sprig's notion of a zero value. */
const empty = (v: unknown): boolean => {
  const k = kindOf(v);
  if (v === undefined || v === null) return true;
  if (isIntKind(k) || isUintKind(k)) return intOf(v) === 0n;
  if (isFloatKind(k)) return floatOf(v) === 0;
  switch (k) {
    case "slice": return (v as unknown[]).length === 0;
    case "map": return Object.keys(v as object).length === 0;
    case "string": return v === "";
    case "bool": return !v;
    case "complex128": return (v as GoComplex).re === 0 && (v as GoComplex).im === 0;
    case "struct": return false;
  }
  return false;
};

const trimZeroDecimal = (s: string): string => {
  const m = /^(.*?)\.0+$/.exec(s);
  return m && m[1] !== "" ? m[1] : s;
};

/** cast.ToInt64: numbers truncate, strings parse with Go literal syntax, anything else is 0. */
const toInt64 = (v: unknown): bigint => {
  const k = kindOf(v);
  if (isIntKind(k) || isUintKind(k)) return BigInt.asIntN(64, intOf(v));
  if (isFloatKind(k)) {
    const f = floatOf(v);
    return Number.isFinite(f) ? BigInt.asIntN(64, BigInt(Math.trunc(f))) : -(1n << 63n);
  }
  if (k === "string") {
    const r = parseInt64(trimZeroDecimal(v as string));
    return r.ok ? r.value : 0n;
  }
  if (k === "bool") return v ? 1n : 0n;
  return 0n;
};

const int64 = (n: bigint): GoNumber => new GoNumber("int64", BigInt.asIntN(64, n));

const strslice = (v: unknown): string[] => {
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(strval);
  if (v === null || v === undefined) return [];
  return [strval(v)];
};

const utf8Compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

const isSpaceRune = (c: string): boolean => /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/.test(c);

const trimFunc = (s: string, drop: (c: string) => boolean): string => {
  const chars = [...s];
  let b = 0;
  let e = chars.length;
  while (b < e && drop(chars[b])) b++;
  while (e > b && drop(chars[e - 1])) e--;
  return chars.slice(b, e).join("");
};

// Go's strings.ToUpper/ToLower/ToTitle map rune by rune with Unicode's simple mappings; JS applies the
// full ones (ß → SS, İ → i̇). Where a full mapping has several runes, the simple one is looked up here:
// U+0130's lower case, and the Greek letters with a iota subscript, whose upper case is their title case.
const simpleLower: Record<string, string> = { "\u0130": "i" };
const iotaSubscriptUpper = (c: string): string | undefined => {
  const cp = c.codePointAt(0)!;
  if ((cp >= 0x1f80 && cp <= 0x1faf) || [0x1fb3, 0x1fbc, 0x1fc3, 0x1fcc, 0x1ff3, 0x1ffc].includes(cp)) {
    const up = (cp >= 0x1f80 && cp <= 0x1faf) ? cp | 0x08 : cp === 0x1fb3 ? 0x1fbc : cp === 0x1fc3 ? 0x1fcc : cp === 0x1ff3 ? 0x1ffc : cp;
    return String.fromCodePoint(up);
  }
  return undefined;
};
// Title case differs from upper case for the digraphs (ǆ → ǅ) and Georgian letters (no title case).
const simpleTitle: Record<string, string> = {
  "\u01c4": "\u01c5", "\u01c5": "\u01c5", "\u01c6": "\u01c5", "\u01c7": "\u01c8", "\u01c8": "\u01c8", "\u01c9": "\u01c8",
  "\u01ca": "\u01cb", "\u01cb": "\u01cb", "\u01cc": "\u01cb", "\u01f1": "\u01f2", "\u01f2": "\u01f2", "\u01f3": "\u01f2",
};
const runeMapper = (full: (c: string) => string, simple: (c: string) => string | undefined) => (c: string): string => {
  const s = simple(c);
  if (s !== undefined) return s;
  const m = full(c);
  return [...m].length === 1 ? m : c;
};
const toLowerRune = runeMapper((c) => c.toLowerCase(), (c) => simpleLower[c]);
const toUpperRune = runeMapper((c) => c.toUpperCase(), iotaSubscriptUpper);
const toTitleRune = runeMapper(
  (c) => c.toUpperCase(),
  (c) => simpleTitle[c] ?? iotaSubscriptUpper(c) ?? (/[\u10d0-\u10fa\u10fd-\u10ff]/.test(c) ? c : undefined),
);
const mapRunes = (s: string, f: (c: string) => string): string => [...s].map(f).join("");

/** strings.Title: upper-cases the first letter of each word; words are separated as Go's isSeparator says. */
const title = (s: string): string => {
  let prev = " ";
  return [...s].map((c) => {
    const sep = /[A-Za-z0-9_]/.test(prev) ? false : prev.codePointAt(0)! < 0x80 ? true : isSpaceRune(prev) ? true : !/[\p{L}\p{Nd}]/u.test(prev);
    prev = c;
    return sep ? toTitleRune(c) : c;
  }).join("");
};

/** RE2's named group `(?P<name>…)` is JS's `(?<name>…)`; escapes and character classes are left alone. */
const namedGroups = (re: string): string => {
  let out = "";
  let inClass = false;
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!;
    if (c === "\\") {
      out += re.slice(i, i + 2);
      i++;
    } else if (inClass) {
      if (c === "]") inClass = false;
      out += c;
    } else if (c === "[") {
      inClass = true;
      // A ] right after [ or [^ is a member, not the end.
      const lead = re[i + 1] === "^" ? 2 : 1;
      out += re.slice(i, i + lead);
      i += lead - 1;
      if (re[i + 1] === "]") out += re[++i];
    } else if (re.startsWith("(?P<", i)) {
      out += "(?<";
      i += 3;
    } else out += c;
  }
  return out;
};

/** Go regexp syntax to a JS RegExp: leading (?flags) become JS flags, (?P<name>) a named group. */
const goRegExp = (re: string, global = false): RegExp => {
  let flags = global ? "g" : "";
  const m = /^\(\?([imsU]+)\)/.exec(re);
  if (m) {
    re = re.slice(m[0].length);
    for (const f of m[1]) if (f !== "U" && !flags.includes(f)) flags += f;
  }
  re = namedGroups(re);
  try {
    return new RegExp(re, flags + "u");
  } catch {
    return new RegExp(re, flags);
  }
};

/** Go's Regexp.ReplaceAllString template expansion: $1, ${1}, $name, ${name}, $$. */
const expand = (repl: string, groups: (string | undefined)[], named: Record<string, string | undefined> | undefined): string =>
  repl.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (all, dollar: string, braced?: string, bare?: string) => {
    if (dollar === "$") return "$";
    const name = braced ?? bare ?? "";
    if (/^[0-9]+$/.test(name)) return groups[Number(name)] ?? "";
    return named?.[name] ?? "";
  });

/** The Sprig functions; now and date read the injected clock. */
export const sprigFuncs = (opts: SprigOptions = {}): FuncMap => {
  const clock = opts.now ?? Date.now;
  const funcs: FuncMap = {
    // defaults.go
    default: goFunc(sig([I, I], I, true), (d: unknown, ...given: unknown[]) => (given.length === 0 || empty(given[0]) ? d : given[0])),
    empty: goFunc(sig([I], "bool"), empty),
    coalesce: goFunc(sig([I], I, true), (...v: unknown[]) => v.find((x) => !empty(x)) ?? null),
    ternary: goFunc(sig([I, I, "bool"], I), (vt: unknown, vf: unknown, v: boolean) => (v ? vt : vf)),
    toJson: goFunc(sig([I], S), (v: unknown) => {
      try {
        return jsonMarshal(v);
      } catch {
        return "";
      }
    }),
    fromJson: goFunc(sig([S], I), (v: string) => {
      try {
        return jsonUnmarshal(v);
      } catch {
        return null;
      }
    }),
    toYaml: goFunc(sig([I], S), (v: unknown) => toYaml(v)),
    // strings.go
    upper: goFunc(sig([S], S), (s: string) => mapRunes(s, toUpperRune)),
    lower: goFunc(sig([S], S), (s: string) => mapRunes(s, toLowerRune)),
    title: goFunc(sig([S], S), title),
    trim: goFunc(sig([S], S), (s: string) => trimFunc(s, isSpaceRune)),
    trimAll: goFunc(sig([S, S], S), (cut: string, s: string) => trimFunc(s, (c) => cut.includes(c))),
    trimPrefix: goFunc(sig([S, S], S), (p: string, s: string) => (s.startsWith(p) ? s.slice(p.length) : s)),
    trimSuffix: goFunc(sig([S, S], S), (p: string, s: string) => (p !== "" && s.endsWith(p) ? s.slice(0, s.length - p.length) : s)),
    nospace: goFunc(sig([S], S), (s: string) => [...s].filter((c) => !isSpaceRune(c)).join("")),
    repeat: goFunc(sig(["int", S], S), (count: number, s: string) => {
      if (count < 0) throw new Error("strings: negative Repeat count");
      return s.repeat(count);
    }),
    replace: goFunc(sig([S, S, S], S), (old: string, nw: string, src: string) =>
      old === "" ? [...src].join(nw).replace(/^/, nw) + (src === "" ? "" : nw) : src.split(old).join(nw)),
    contains: goFunc(sig([S, S], "bool"), (sub: string, s: string) => s.includes(sub)),
    hasPrefix: goFunc(sig([S, S], "bool"), (p: string, s: string) => s.startsWith(p)),
    hasSuffix: goFunc(sig([S, S], "bool"), (p: string, s: string) => s.endsWith(p)),
    quote: goFunc(sig([I], S, true), (...v: unknown[]) => v.filter((x) => x !== null).map((x) => sprintf("%q", strval(x))).join(" ")),
    squote: goFunc(sig([I], S, true), (...v: unknown[]) => v.filter((x) => x !== null).map((x) => sprintf("'%v'", x)).join(" ")),
    cat: goFunc(sig([I], S, true), (...v: unknown[]) => {
      const vals = v.filter((x) => x !== null);
      return sprintf(Array(vals.length).fill("%v").join(" "), ...vals);
    }),
    indent: goFunc(sig(["int", S], S), (n: number, s: string) => indent(n, s)),
    nindent: goFunc(sig(["int", S], S), (n: number, s: string) => "\n" + indent(n, s)),
    b64enc: goFunc(sig([S], S), (s: string) => Buffer.from(s, "utf8").toString("base64")),
    b64dec: goFunc(sig([S], S), (s: string) => {
      const r = base64Decode(s);
      return r.ok ? r.value.toString("utf8") : r.error;
    }),
    b32enc: goFunc(sig([S], S), (s: string) => base32Encode(Buffer.from(s, "utf8"))),
    sha256sum: goFunc(sig([S], S), (s: string) => createHash("sha256").update(s, "utf8").digest("hex")),
    toString: goFunc(sig([I], S), strval),
    split: goFunc(sig([S, S], "map[string]string"), (sep: string, s: string) => splitMap(goSplit(s, sep, -1))),
    splitn: goFunc(sig([S, "int", S], "map[string]string"), (sep: string, n: number, s: string) => splitMap(goSplit(s, sep, n))),
    splitList: goFunc(sig([S, S], "[]string"), (sep: string, s: string) => withGoType(goSplit(s, sep, -1), "[]string")),
    join: goFunc(sig([S, I], S), (sep: string, v: unknown) => strslice(v).join(sep)),
    sortAlpha: goFunc(sig([I], "[]string"), (v: unknown) =>
      withGoType(Array.isArray(v) ? strslice(v).sort(utf8Compare) : [strval(v)], "[]string")),
    // numeric.go
    atoi: goFunc(sig([S], "int"), (s: string) => (/^[+-]?[0-9]+$/.test(s) ? makeInt(parseInt64(s).ok ? (parseInt64(s) as { value: bigint }).value : 0n) : 0)),
    int: goFunc(sig([I], "int"), (v: unknown) => makeInt(toInt64(v))),
    add: goFunc(sig([I], "int64", true), (...v: unknown[]) => int64(v.reduce<bigint>((a, b) => a + toInt64(b), 0n))),
    sub: goFunc(sig([I, I], "int64"), (a: unknown, b: unknown) => int64(toInt64(a) - toInt64(b))),
    mul: goFunc(sig([I, I], "int64", true), (a: unknown, ...v: unknown[]) => int64(v.reduce<bigint>((x, b) => x * toInt64(b), toInt64(a)))),
    div: goFunc(sig([I, I], "int64"), (a: unknown, b: unknown) => int64(divide(toInt64(a), toInt64(b)))),
    mod: goFunc(sig([I, I], "int64"), (a: unknown, b: unknown) => {
      const d = toInt64(b);
      if (d === 0n) throw new Error("runtime error: integer divide by zero");
      return int64(toInt64(a) % d);
    }),
    max: goFunc(sig([I, I], "int64", true), (a: unknown, ...v: unknown[]) => int64(v.map(toInt64).reduce((x, y) => (y > x ? y : x), toInt64(a)))),
    min: goFunc(sig([I, I], "int64", true), (a: unknown, ...v: unknown[]) => int64(v.map(toInt64).reduce((x, y) => (y < x ? y : x), toInt64(a)))),
    until: goFunc(sig(["int"], "[]int"), (count: number) => {
      const step = count < 0 ? -1 : 1;
      const out: number[] = [];
      for (let i = 0; step > 0 ? i < count : i > count; i += step) out.push(i);
      return withGoType(out, "[]int");
    }),
    // list.go
    list: goFunc(sig([I], "[]interface {}", true), (...v: unknown[]) => v),
    first: goFunc(sig([I], I), (v: unknown) => listEnd(v, "first")),
    last: goFunc(sig([I], I), (v: unknown) => listEnd(v, "last")),
    uniq: goFunc(sig([I], "[]interface {}"), (v: unknown) => {
      if (!Array.isArray(v)) throw new Error(`Cannot find uniq on type ${kindName(v)}`);
      const out: unknown[] = [];
      for (const x of v) if (!out.some((y) => deepEqual(x, y))) out.push(x);
      return out;
    }),
    // dict.go
    dict: goFunc(sig([I], M, true), (...v: unknown[]) => {
      const d: Record<string, unknown> = {};
      for (let i = 0; i < v.length; i += 2) putKey(d, strval(v[i]), i + 1 < v.length ? v[i + 1] : "");
      return d;
    }),
    get: goFunc(sig([M, S], I), (d: Record<string, unknown>, key: string) => (Object.hasOwn(d ?? {}, key) ? d[key] : "")),
    set: goFunc(sig([M, S, I], M), (d: Record<string, unknown>, key: string, value: unknown) => {
      putKey(d, key, value);
      return d;
    }),
    unset: goFunc(sig([M, S], M), (d: Record<string, unknown>, key: string) => {
      delete d[key];
      return d;
    }),
    hasKey: goFunc(sig([M, S], "bool"), (d: Record<string, unknown>, key: string) => Object.hasOwn(d ?? {}, key)),
    keys: goFunc(sig([M], "[]string", true), (...ds: Record<string, unknown>[]) => withGoType(ds.flatMap((d) => Object.keys(d ?? {})), "[]string")),
    // regex.go
    regexMatch: goFunc(sig([S, S], "bool"), (re: string, s: string) => {
      try {
        return goRegExp(re).test(s);
      } catch {
        return false;
      }
    }),
    regexReplaceAll: goFunc(sig([S, S, S], S), (re: string, s: string, repl: string) =>
      s.replace(goRegExp(re, true), (...m: unknown[]) => {
        const named = typeof m[m.length - 1] === "object" ? (m[m.length - 1] as Record<string, string | undefined>) : undefined;
        const groups = m.slice(0, named ? -3 : -2) as (string | undefined)[];
        return expand(repl, groups, named);
      })),
    // date.go
    now: goFunc(sig([], "time.Time"), () => localTime(clock())),
    date: goFunc(sig([S, I], S), (layout: string, d: unknown) => formatGoTime(toTime(d, clock), layout)),
  };
  return funcs;
};

const indent = (n: number, s: string): string => {
  // Sprig's strings.Repeat panics on a negative count; the template sees that as the call's error.
  if (n < 0) throw new Error("strings: negative Repeat count");
  const pad = " ".repeat(n);
  return pad + s.replaceAll("\n", "\n" + pad);
};

const divide = (a: bigint, b: bigint): bigint => {
  if (b === 0n) throw new Error("runtime error: integer divide by zero");
  return a / b;
};

/** strings.Split / strings.SplitN semantics (an empty separator splits into runes). */
const goSplit = (s: string, sep: string, n: number): string[] => {
  if (n === 0) return [];
  if (sep === "") {
    const runes = [...s];
    if (n < 0 || n >= runes.length) return runes;
    return [...runes.slice(0, n - 1), runes.slice(n - 1).join("")];
  }
  const parts = s.split(sep);
  if (n < 0 || parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
};

const splitMap = (parts: string[]): Record<string, string> => {
  const m: Record<string, string> = {};
  parts.forEach((p, i) => (m[`_${i}`] = p));
  return withGoType(m, "map[string]string");
};

const kindName = (v: unknown): string => {
  const k = kindOf(v);
  return k === "struct" ? "struct" : k === "interface" ? "interface" : k === "invalid" ? "invalid" : k;
};

const listEnd = (v: unknown, which: "first" | "last"): unknown => {
  if (v === null || v === undefined) throw new Error("runtime error: invalid memory address or nil pointer dereference");
  if (!Array.isArray(v)) throw new Error(`Cannot find ${which} on type ${kindName(v)}`);
  if (v.length === 0) return null;
  return which === "first" ? v[0] : v[v.length - 1];
};

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (kindOf(a) !== kindOf(b)) return false;
  if (a instanceof GoNumber || b instanceof GoNumber) return a instanceof GoNumber && b instanceof GoNumber && a.kind === b.kind && a.value === b.value;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  if (a !== null && typeof a === "object" && !isStruct(a)) {
    const ka = Object.keys(a);
    const bo = b as Record<string, unknown>;
    return ka.length === Object.keys(bo).length && ka.every((k) => Object.hasOwn(bo, k) && deepEqual((a as Record<string, unknown>)[k], bo[k]));
  }
  return a === b;
};

const toTime = (d: unknown, clock: () => number): GoTime => {
  if (d !== null && typeof d === "object" && "ms" in d && "offsetMinutes" in d) return localTime((d as GoTime).ms);
  const k = kindOf(d);
  if (k === "int" || k === "int64" || k === "int32") return localTime(Number(intOf(d)) * 1000);
  return localTime(clock());
};

// yaml.v2's resolve(): the plain scalars that would not read back as strings.
const yamlSpecial = new Set([
  "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
  "on", "On", "ON", "off", "Off", "OFF", "", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN",
  ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
]);
const yamlStyleFloat = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const yamlTimestamp = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]| )[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?$/;
const yamlResolvesNonString = (s: string): boolean => {
  if (yamlSpecial.has(s)) return true;
  const c = s[0];
  if (c === ".") return parseFloat64(s).ok;
  if (!(c === "+" || c === "-" || (c >= "0" && c <= "9"))) return false;
  if (yamlTimestamp.test(s)) return true;
  const plain = s.replaceAll("_", "");
  if (parseInt64(plain).ok || parseUint(plain).ok) return true;
  if (yamlStyleFloat.test(plain) && parseFloat64(plain).ok) return true;
  if (/^-?0b[01]+$/.test(plain)) return true;
  return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*$/.test(s); // base 60 float
};
// yaml.v2's emitter quotes (double) any string holding a character outside YAML's printable set.
const yamlUnprintable = /[^\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]/u;

/**
 * Helm's toYaml: sigs.k8s.io/yaml turns the value into JSON, then into YAML in gopkg.in/yaml.v2's
 * style (sorted keys, sequences not indented under their key, strings that would read back as
 * another type double-quoted, other quoting single), without the final newline.
 */
const toYaml = (v: unknown): string => {
  let plain: unknown;
  try {
    plain = JSON.parse(jsonMarshal(v));
  } catch {
    return "";
  }
  const doc = new Document(plain, { version: "1.1", sortMapEntries: true });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== "string") return;
      const s = node.value;
      if (!s.includes("\n") && (yamlResolvesNonString(s) || yamlUnprintable.test(s))) node.type = "QUOTE_DOUBLE";
    },
  });
  const out = doc.toString({ indentSeq: false, lineWidth: 0, singleQuote: true, nullStr: "null", trueStr: "true", falseStr: "false" });
  return out.endsWith("\n") ? out.slice(0, -1) : out;
};
