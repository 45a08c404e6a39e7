// Port of Go's text/template/funcs.go: the builtin functions, Go's comparison rules and the
// escapers. Builtins carry Go's signatures (goFunc), so exec checks and reports arguments as Go does.
// "reflect.Value" parameters receive the raw value: undefined for an invalid value, null for nil.
import { sprint, sprintf, sprintln } from "./fmt.js";
import { isPrint } from "./strconv.js";
import type { Signature } from "./value.js";
import type { GoComplex } from "./value.js";
import {
  GoNumber, assignableTo, canBeNil, elemType, floatOf, goFunc, intOf, isFloatKind, isIntKind, isStruct,
  isUintKind, keyType, kindOf, kindOfType, makeInt, signatureOf, structFields, typeOf, withGoType, zeroOf,
} from "./value.js";

/** A function a template can call. Throwing is Go's non-nil error result; a Promise is awaited. */
export type TemplateFunction = (...args: never[]) => unknown;
export type FuncMap = Record<string, TemplateFunction>;

const rv = "reflect.Value";
const sig = (s: Signature): Signature => s;

/** The builtin functions, keyed like Go's builtins() map. */
export const builtins = (): Map<string, TemplateFunction> =>
  new Map<string, TemplateFunction>([
    ["and", goFunc(sig({ in: [rv, rv], variadic: true, out: rv }), andOr)],
    ["call", goFunc(sig({ in: [rv, rv], variadic: true, out: rv }), emptyCall)],
    ["html", goFunc(sig({ in: ["interface {}"], variadic: true, out: "string" }), HTMLEscaper)],
    ["index", goFunc(sig({ in: [rv, rv], variadic: true, out: rv, err: true }), index)],
    ["slice", goFunc(sig({ in: [rv, rv], variadic: true, out: rv, err: true }), slice)],
    ["js", goFunc(sig({ in: ["interface {}"], variadic: true, out: "string" }), JSEscaper)],
    ["len", goFunc(sig({ in: [rv], out: "int", err: true }), length)],
    ["not", goFunc(sig({ in: [rv], out: "bool" }), not)],
    ["or", goFunc(sig({ in: [rv, rv], variadic: true, out: rv }), andOr)],
    ["print", goFunc(sig({ in: ["interface {}"], variadic: true, out: "string" }), sprint)],
    ["printf", goFunc(sig({ in: ["string", "interface {}"], variadic: true, out: "string" }), sprintf)],
    ["println", goFunc(sig({ in: ["interface {}"], variadic: true, out: "string" }), sprintln)],
    ["urlquery", goFunc(sig({ in: ["interface {}"], variadic: true, out: "string" }), URLQueryEscaper)],
    // Comparisons
    ["eq", goFunc(sig({ in: [rv, rv], variadic: true, out: "bool", err: true }), eq)], // ==
    ["ge", goFunc(sig({ in: [rv, rv], out: "bool", err: true }), ge)], // >=
    ["gt", goFunc(sig({ in: [rv, rv], out: "bool", err: true }), gt)], // >
    ["le", goFunc(sig({ in: [rv, rv], out: "bool", err: true }), le)], // <=
    ["lt", goFunc(sig({ in: [rv, rv], out: "bool", err: true }), lt)], // <
    ["ne", goFunc(sig({ in: [rv, rv], out: "bool", err: true }), ne)], // !=
  ]);

let builtinCache: Map<string, TemplateFunction> | undefined;
/** builtinFuncs lazily computes and caches the builtin map. */
export const builtinFuncs = (): Map<string, TemplateFunction> => (builtinCache ??= builtins());

const goodNameRe = /^[\p{L}_][\p{L}\p{Nd}_]*$/u;
/** goodName reports whether the function name is a valid identifier. */
export const goodName = (name: string): boolean => goodNameRe.test(name);

/** addValueFuncs checks and adds funcs to out, panicking (throwing) as Go's does on a bad entry. */
export const addValueFuncs = (out: Map<string, TemplateFunction>, funcs: FuncMap): void => {
  for (const [name, fn] of Object.entries(funcs)) {
    if (!goodName(name)) throw new Error(sprintf("function name %q is not a valid identifier", name));
    if (typeof fn !== "function") throw new Error("value for " + name + " not a function");
    out.set(name, fn);
  }
};

/** findFunction looks for a function in the template's map, then among the builtins. */
export const findFunction = (
  name: string,
  execFuncs: Map<string, TemplateFunction> | undefined,
): { fn: TemplateFunction; isBuiltin: boolean } | undefined => {
  const fn = execFuncs?.get(name);
  if (fn) return { fn, isBuiltin: false };
  const b = builtinFuncs().get(name);
  if (b) return { fn: b, isBuiltin: true };
  return undefined;
};

/** indirectInterface: the value inside an interface; a nil interface becomes an invalid value. */
export const indirectInterface = (v: unknown): unknown => (v === null ? undefined : v);

/** indirect returns the value at the end of indirections and whether it is nil. */
export const indirect = (v: unknown): [unknown, boolean] => [v, v === null];

/** prepareArg checks if value can be used as an argument of type argType. */
const prepareArg = (value: unknown, argType: string): unknown => {
  if (value === undefined) {
    if (!canBeNil(argType)) throw new Error(sprintf("value is nil; should be of type %s", argType));
    value = zeroOf(argType);
  }
  if (value === null || assignableTo(value, argType)) return value;
  const k = kindOf(value);
  const tk = kindOfType(argType);
  if ((isIntKind(k) || isUintKind(k)) && (isIntKind(tk) || isUintKind(tk))) return makeInt(intOf(value), tk as "int");
  throw new Error(sprintf("value has type %s; should be %s", typeOf(value), argType));
};

const byteLength = (s: string): number => Buffer.byteLength(s, "utf8");

/** indexArg checks if a value can be used as an index, and converts it to a number. */
const indexArg = (index: unknown, cap: number): number => {
  const k = kindOf(index);
  let x: bigint;
  if (isIntKind(k)) x = intOf(index);
  else if (isUintKind(k)) x = BigInt.asIntN(64, intOf(index));
  else if (k === "invalid") throw new Error("cannot index slice/array with nil");
  else throw new Error(sprintf("cannot index slice/array with type %s", typeOf(index)));
  if (x < 0n || x > BigInt(cap)) throw new Error(sprintf("index out of range: %d", x));
  return Number(x);
};

/** index returns the result of indexing its first argument by the following arguments. */
export const index = (item: unknown, ...indexes: unknown[]): unknown => {
  item = indirectInterface(item);
  if (item === undefined) throw new Error("index of untyped nil");
  for (let idx of indexes) {
    idx = indirectInterface(idx);
    if (item === null) throw new Error("index of nil pointer");
    const k = kindOf(item);
    if (k === "slice") {
      const a = item as unknown[];
      const x = indexArg(idx, a.length);
      if (x >= a.length) throw new Error("reflect: slice index out of range");
      item = a[x];
    } else if (k === "string") {
      const b = Buffer.from(item as string, "utf8");
      const x = indexArg(idx, b.length);
      if (x >= b.length) throw new Error("reflect: string index out of range");
      item = new GoNumber("uint8", BigInt(b[x]));
    } else if (k === "map") {
      const typ = typeOf(item);
      const key = prepareArg(idx, keyType(typ));
      const m = item as Record<string, unknown>;
      const ks = typeof key === "string" ? key : sprintf("%v", key);
      item = Object.hasOwn(m, ks) && m[ks] !== undefined ? m[ks] : zeroOf(elemType(typ));
    } else throw new Error(sprintf("can't index item of type %s", typeOf(item)));
  }
  return item;
};

/** slice returns the result of slicing its first argument by the remaining arguments. */
export const slice = (item: unknown, ...indexes: unknown[]): unknown => {
  item = indirectInterface(item);
  if (item === undefined) throw new Error("slice of untyped nil");
  if (indexes.length > 3) throw new Error(sprintf("too many slice indexes: %d", indexes.length));
  const k = kindOf(item);
  let cap: number;
  let len: number;
  if (k === "string") {
    if (indexes.length === 3) throw new Error("cannot 3-index slice a string");
    cap = len = byteLength(item as string);
  } else if (k === "slice") cap = len = (item as unknown[]).length;
  else throw new Error(sprintf("can't slice item of type %s", typeOf(item)));
  const idx = [0, len, 0];
  indexes.forEach((index, i) => {
    idx[i] = indexArg(index, cap);
  });
  if (idx[0] > idx[1]) throw new Error(sprintf("invalid slice index: %d > %d", idx[0], idx[1]));
  if (indexes.length === 3 && idx[1] > idx[2]) throw new Error(sprintf("invalid slice index: %d > %d", idx[1], idx[2]));
  if (k === "string") return Buffer.from(item as string, "utf8").subarray(idx[0], idx[1]).toString("utf8");
  const out = (item as unknown[]).slice(idx[0], idx[1]);
  const t = typeOf(item);
  return t === "[]interface {}" ? out : withGoType(out, t);
};

/** length returns the length of the item, with an error if it has no defined length. */
export const length = (item: unknown): number => {
  const [v, isNil] = indirect(item);
  if (isNil) throw new Error("len of nil pointer");
  switch (kindOf(v)) {
    case "slice": return (v as unknown[]).length;
    case "map": return Object.keys(v as object).length;
    case "string": return byteLength(v as string);
    case "invalid": throw new Error("reflect: call of reflect.Value.Type on zero Value");
  }
  throw new Error(sprintf("len of type %s", typeOf(v)));
};

const emptyCall = (): never => {
  throw new Error("unreachable"); // implemented as a special case in evalCall
};

/** call returns the result of evaluating the first argument as a function. */
export const call = (name: string, fn: unknown, ...args: unknown[]): unknown => {
  fn = indirectInterface(fn);
  if (fn === undefined) throw new Error("call of nil");
  if (typeof fn !== "function") throw new Error(sprintf("non-function %s of type %s", name, typeOf(fn)));
  const s = signatureOf(fn);
  const numIn = s.in.length;
  if (s.variadic) {
    if (args.length < numIn - 1) throw new Error(sprintf("wrong number of args for %s: got %d want at least %d", name, args.length, numIn - 1));
  } else if (args.length !== numIn) throw new Error(sprintf("wrong number of args for %s: got %d want %d", name, args.length, numIn));
  const argv = args.map((arg, i) => {
    const argType = !s.variadic || i < numIn - 1 ? s.in[i] : s.in[numIn - 1];
    try {
      return argType === rv ? arg : prepareArg(indirectInterface(arg), argType);
    } catch (e) {
      throw new Error(sprintf("arg %d: %s", i, (e as Error).message), { cause: e });
    }
  });
  return (fn as (...a: unknown[]) => unknown)(...argv);
};

/** truth is isTrue of the value inside an interface. */
export const truth = (arg: unknown): boolean => isTrue(indirectInterface(arg))[0];

/** and/or are implemented as special cases in evalCall, which short-circuits. */
const andOr = (): never => {
  throw new Error("unreachable");
};

/** not returns the Boolean negation of its argument. */
export const not = (arg: unknown): boolean => !truth(arg);

/**
 * isTrue reports whether the value is 'true', in the sense of not the zero of its type, and
 * whether the value has a meaningful truth value.
 */
export const isTrue = (val: unknown): [boolean, boolean] => {
  const k = kindOf(val);
  if (k === "invalid") return [false, true]; // Something like var x interface{}, never set. It's a form of nil.
  if (isIntKind(k) || isUintKind(k)) return [intOf(val) !== 0n, true];
  if (isFloatKind(k)) return [floatOf(val) !== 0, true];
  switch (k) {
    case "slice": return [(val as unknown[]).length > 0, true];
    case "map": return [Object.keys(val as object).length > 0, true];
    case "string": return [(val as string).length > 0, true];
    case "bool": return [val as boolean, true];
    case "complex128": return [(val as GoComplex).re !== 0 || (val as GoComplex).im !== 0, true];
    case "func": return [true, true];
    case "interface": return [false, true];
    case "struct": return [true, true]; // Struct values are always true.
  }
  return [false, false];
};

// Comparison.

const errBadComparisonType = "invalid type for comparison";
const errNoComparison = "missing argument for comparison";

type BasicKind = "invalid" | "bool" | "complex" | "int" | "float" | "string" | "uint";

const basicKind = (v: unknown): BasicKind => {
  const k = kindOf(v);
  if (k === "bool") return "bool";
  if (isIntKind(k)) return "int";
  if (isUintKind(k)) return "uint";
  if (isFloatKind(k)) return "float";
  if (k === "complex128") return "complex";
  if (k === "string") return "string";
  return "invalid";
};

const isNil = (v: unknown): boolean => v === undefined || v === null;

/** canCompare reports whether v1 and v2 are both the same kind, or one is nil. */
const canCompare = (v1: unknown, v2: unknown): boolean => {
  const k1 = kindOf(v1);
  const k2 = kindOf(v2);
  return k1 === k2 || k1 === "invalid" || k2 === "invalid";
};

const comparable = (v: unknown): boolean => {
  const k = kindOf(v);
  if (k === "slice" || k === "map" || k === "func") return false;
  if (k === "struct") return structFields(v as object).every(([, f]) => comparable(f));
  return true;
};

const compareStrings = (a: string, b: string): number => (a === b ? 0 : Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));

const interfaceEqual = (a: unknown, b: unknown): boolean => {
  if (typeOf(a) !== typeOf(b)) return false;
  const ka = basicKind(a);
  if (ka === "int" || ka === "uint") return intOf(a) === intOf(b);
  if (ka === "float") return floatOf(a) === floatOf(b);
  if (ka === "complex") return (a as GoComplex).re === (b as GoComplex).re && (a as GoComplex).im === (b as GoComplex).im;
  if (isStruct(a) && isStruct(b)) {
    const fa = structFields(a);
    const fb = structFields(b);
    return fa.length === fb.length && fa.every(([n, v], i) => fb[i][0] === n && interfaceEqual(v, fb[i][1]));
  }
  return a === b;
};

/** eq evaluates the comparison a == b || a == c || ... */
export const eq = (arg1: unknown, ...arg2: unknown[]): boolean => {
  arg1 = indirectInterface(arg1);
  if (arg2.length === 0) throw new Error(errNoComparison);
  const k1 = basicKind(arg1);
  for (let arg of arg2) {
    arg = indirectInterface(arg);
    const k2 = basicKind(arg);
    let t = false;
    if (k1 !== k2) {
      // Special case: Can compare integer values regardless of type's sign.
      if (k1 === "int" && k2 === "uint") t = intOf(arg1) >= 0n && intOf(arg1) === intOf(arg);
      else if (k1 === "uint" && k2 === "int") t = intOf(arg) >= 0n && intOf(arg1) === intOf(arg);
      else if (arg1 !== undefined && arg !== undefined) {
        throw new Error(sprintf("incompatible types for comparison: %s and %s", typeOf(arg1), typeOf(arg)));
      }
    } else {
      switch (k1) {
        case "bool": t = arg1 === arg; break;
        case "complex": t = interfaceEqual(arg1, arg); break;
        case "float": t = floatOf(arg1) === floatOf(arg); break;
        case "int": case "uint": t = intOf(arg1) === intOf(arg); break;
        case "string": t = arg1 === arg; break;
        default:
          if (!canCompare(arg1, arg)) {
            throw new Error(sprintf("non-comparable types %s: %v, %s: %v", arg1, typeOf(arg1), typeOf(arg), arg));
          }
          if (isNil(arg1) || isNil(arg)) t = isNil(arg) === isNil(arg1);
          else {
            if (!comparable(arg)) throw new Error(sprintf("non-comparable type %s: %v", arg, typeOf(arg)));
            t = interfaceEqual(arg1, arg);
          }
      }
    }
    if (t) return true;
  }
  return false;
};

/** ne evaluates the comparison a != b. */
export const ne = (arg1: unknown, arg2: unknown): boolean => !eq(arg1, arg2);

/** lt evaluates the comparison a < b. */
export const lt = (arg1: unknown, arg2: unknown): boolean => {
  arg1 = indirectInterface(arg1);
  const k1 = basicKind(arg1);
  if (k1 === "invalid") throw new Error(errBadComparisonType);
  arg2 = indirectInterface(arg2);
  const k2 = basicKind(arg2);
  if (k2 === "invalid") throw new Error(errBadComparisonType);
  if (k1 !== k2) {
    // Special case: Can compare integer values regardless of type's sign.
    if (k1 === "int" && k2 === "uint") return intOf(arg1) < 0n || intOf(arg1) < intOf(arg2);
    if (k1 === "uint" && k2 === "int") return intOf(arg2) >= 0n && intOf(arg1) < intOf(arg2);
    throw new Error(sprintf("incompatible types for comparison: %s and %s", typeOf(arg1), typeOf(arg2)));
  }
  switch (k1) {
    case "bool": case "complex": throw new Error(errBadComparisonType);
    case "float": return floatOf(arg1) < floatOf(arg2);
    case "int": case "uint": return intOf(arg1) < intOf(arg2);
    default: return compareStrings(arg1 as string, arg2 as string) < 0;
  }
};

/** le evaluates the comparison <= b. */
export const le = (arg1: unknown, arg2: unknown): boolean => lt(arg1, arg2) || eq(arg1, arg2);

/** gt evaluates the comparison a > b. */
export const gt = (arg1: unknown, arg2: unknown): boolean => !le(arg1, arg2);

/** ge evaluates the comparison a >= b. */
export const ge = (arg1: unknown, arg2: unknown): boolean => !lt(arg1, arg2);

// HTML escaping.

/** HTMLEscapeString returns the escaped HTML equivalent of the plain text data s. */
export const HTMLEscapeString = (s: string): string => {
  if (!/['"&<>\0]/.test(s)) return s;
  return s.replace(/['"&<>\0]/g, (c) =>
    c === "\0" ? "\uFFFD" : c === '"' ? "&#34;" : c === "'" ? "&#39;" : c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;");
};

/** HTMLEscaper returns the escaped HTML equivalent of the textual representation of its arguments. */
export const HTMLEscaper = (...args: unknown[]): string => HTMLEscapeString(evalArgs(args));

// JavaScript escaping.

const jsIsSpecial = (r: number): boolean =>
  r === 0x5c || r === 0x27 || r === 0x22 || r === 0x3c || r === 0x3e || r === 0x26 || r === 0x3d || r < 0x20 || r >= 0x80;

/** JSEscapeString returns the escaped JavaScript equivalent of the plain text data s. */
export const JSEscapeString = (s: string): string => {
  const out: string[] = [];
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (!jsIsSpecial(r)) {
      out.push(ch);
      continue;
    }
    if (r < 0x80) {
      switch (ch) {
        case "\\": out.push("\\\\"); break;
        case "'": out.push("\\'"); break;
        case '"': out.push('\\"'); break;
        case "<": out.push("\\u003C"); break;
        case ">": out.push("\\u003E"); break;
        case "&": out.push("\\u0026"); break;
        case "=": out.push("\\u003D"); break;
        default: out.push("\\u00" + r.toString(16).toUpperCase().padStart(2, "0"));
      }
    } else if (isPrint(r)) out.push(ch);
    else out.push("\\u" + r.toString(16).toUpperCase().padStart(4, "0"));
  }
  return out.join("");
};

/** JSEscaper returns the escaped JavaScript equivalent of the textual representation of its arguments. */
export const JSEscaper = (...args: unknown[]): string => JSEscapeString(evalArgs(args));

/** URLQueryEscaper: url.QueryEscape of the textual representation of its arguments. */
export const URLQueryEscaper = (...args: unknown[]): string => queryEscape(evalArgs(args));

export const queryEscape = (s: string): string => {
  const out: string[] = [];
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out.push(c);
    else if (c === " ") out.push("+");
    else out.push("%" + b.toString(16).toUpperCase().padStart(2, "0"));
  }
  return out.join("");
};

/**
 * evalArgs formats the arguments like fmt.Sprint, except that each argument is made printable by
 * the rules of template output, so a nil argument prints "<no value>".
 */
export const evalArgs = (args: unknown[]): string => {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return sprint(...args.map((a) => (a === undefined || a === null ? "<no value>" : a)));
};

