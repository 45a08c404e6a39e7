// The value model: how JavaScript values stand in for Go's reflect.Value during execution.
//
//   undefined            an invalid reflect.Value (a missing map key, "no value")
//   null                 a nil interface{} (JSON null inside a map or slice)
//   boolean, string      bool, string
//   number               int when Number.isInteger, else float64 (JSON numbers behave like Go's
//                        untyped constants: 3 is an int for %d and eq, 3.5 a float64)
//   bigint               int (for integers beyond 2^53)
//   GoNumber             an explicitly typed number: float64 with an integral value, int64, uint8...
//   GoComplex            complex128 (template literals like 1+2i)
//   Array                []interface {} (or the type set with withGoType, e.g. []string)
//   plain object         map[string]interface {} (or the type set with withGoType)
//   other object         a struct: own enumerable properties are fields; functions on its prototype
//                        chain whose names start with a capital letter are methods
//   function             a func value (see Signature)
import { formatFloat } from "./strconv.js";

export const GO_TYPE = Symbol.for("kms.template.goType");
export const GO_SIGNATURE = Symbol.for("kms.template.goSignature");

export type IntKind = "int" | "int8" | "int16" | "int32" | "int64";
export type UintKind = "uint" | "uint8" | "uint16" | "uint32" | "uint64" | "uintptr";
export type FloatKind = "float32" | "float64";
export type NumKind = IntKind | UintKind | FloatKind;
export type Kind =
  | "invalid" | "bool" | NumKind | "complex128" | "string" | "slice" | "map" | "func" | "interface" | "struct";

export class GoNumber {
  constructor(readonly kind: NumKind, readonly value: number | bigint) {}
}

export class GoComplex {
  constructor(readonly re: number, readonly im: number) {}
}

/**
 * A Go function signature. Types are written as Go prints them ("string", "int", "interface {}",
 * "reflect.Value", "[]string", ...). With variadic, the last entry of `in` is the element type.
 */
export interface Signature {
  in: string[];
  variadic?: boolean;
  out: string;
  err?: boolean;
}

/** What Go would infer for a plain JS function registered through funcs(): func(...interface {}) (interface {}, error). */
export const defaultSignature: Signature = { in: ["interface {}"], variadic: true, out: "interface {}", err: true };

type AnyFn = (...args: never[]) => unknown;

/** Attaches a Go signature to a function, so argument checks and messages follow Go. */
export const goFunc = <F extends AnyFn>(sig: Signature, fn: F): F => {
  Object.defineProperty(fn, GO_SIGNATURE, { value: sig, enumerable: false, configurable: true });
  return fn;
};

export const signatureOf = (fn: unknown): Signature =>
  ((fn as { [GO_SIGNATURE]?: Signature })[GO_SIGNATURE]) ?? defaultSignature;

/** Tags an array or object with its Go type (e.g. "[]string", "map[string]string", "main.Secret"). */
export const withGoType = <T extends object>(v: T, typ: string): T => {
  Object.defineProperty(v, GO_TYPE, { value: typ, enumerable: false, configurable: true });
  return v;
};

const taggedType = (v: object): string | undefined => (v as { [GO_TYPE]?: string })[GO_TYPE];

const intKinds = new Set<string>(["int", "int8", "int16", "int32", "int64"]);
const uintKinds = new Set<string>(["uint", "uint8", "uint16", "uint32", "uint64", "uintptr"]);
export const isIntKind = (k: string): boolean => intKinds.has(k);
export const isUintKind = (k: string): boolean => uintKinds.has(k);
export const isFloatKind = (k: string): boolean => k === "float32" || k === "float64";

export const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
};

/**
 * Sets a map key as Go would: any string is just a key. `obj[key] = …` with "__proto__" would replace the
 * object's prototype instead (and turn a map into something that is no longer a plain object).
 */
export const putKey = (obj: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
};

export const isStruct = (v: unknown): v is object =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !isPlainObject(v) &&
  !(v instanceof GoNumber) && !(v instanceof GoComplex);

export const kindOf = (v: unknown): Kind => {
  switch (typeof v) {
    case "undefined": return "invalid";
    case "boolean": return "bool";
    case "string": return "string";
    case "number": return Number.isInteger(v) ? "int" : "float64";
    case "bigint": return "int";
    case "function": return "func";
    case "object":
      if (v === null) return "interface";
      if (v instanceof GoNumber) return v.kind;
      if (v instanceof GoComplex) return "complex128";
      if (Array.isArray(v)) return "slice";
      if (isPlainObject(v)) return "map";
      return "struct";
  }
  return "invalid";
};

export const signatureType = (sig: Signature): string => {
  const ins = sig.in.map((t, i) => (sig.variadic && i === sig.in.length - 1 ? "..." + t : t)).join(", ");
  const out = sig.err ? `(${sig.out}, error)` : sig.out;
  return `func(${ins}) ${out}`;
};

/** The Go type of a value, as %T and error messages print it. */
export const typeOf = (v: unknown): string => {
  const k = kindOf(v);
  switch (k) {
    case "invalid": return "<nil>";
    case "interface": return "interface {}";
    case "slice": return taggedType(v as object) ?? "[]interface {}";
    case "map": return taggedType(v as object) ?? "map[string]interface {}";
    case "func": return taggedType(v as object) ?? signatureType(signatureOf(v));
    case "struct": {
      const o = v as object;
      return taggedType(o) ?? (o.constructor?.name ? `main.${o.constructor.name}` : "struct {}");
    }
    default: return k;
  }
};

/** The kind of a Go type written as a string. "reflect.Value" is reported separately. */
export const kindOfType = (t: string): Kind | "reflect" | "ptr" => {
  if (t === "interface {}" || t === "error" || t === "fmt.Stringer" || t.startsWith("interface")) return "interface";
  if (t === "reflect.Value") return "reflect";
  if (t.startsWith("[]")) return "slice";
  if (t.startsWith("map[")) return "map";
  if (t.startsWith("func")) return "func";
  if (t.startsWith("*")) return "ptr";
  if (isIntKind(t) || isUintKind(t) || isFloatKind(t) || t === "bool" || t === "string" || t === "complex128") return t as Kind;
  return "struct";
};

export const elemType = (containerType: string): string => {
  if (containerType.startsWith("[]")) return containerType.slice(2);
  if (containerType.startsWith("map[")) {
    let depth = 0;
    for (let i = 3; i < containerType.length; i++) {
      if (containerType[i] === "[") depth++;
      else if (containerType[i] === "]" && --depth === 0) return containerType.slice(i + 1);
    }
  }
  return "interface {}";
};

export const keyType = (mapType: string): string => {
  const e = elemType(mapType);
  return mapType.slice(4, mapType.length - e.length - 1);
};

/** int64 value of an int or uint kind value. */
export const intOf = (v: unknown): bigint => {
  if (typeof v === "number") return BigInt(v);
  if (typeof v === "bigint") return v;
  if (v instanceof GoNumber) return typeof v.value === "bigint" ? v.value : BigInt(Math.trunc(v.value));
  return 0n;
};

export const floatOf = (v: unknown): number => {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof GoNumber) return Number(v.value);
  return 0;
};

const wrap = (kind: IntKind | UintKind, n: bigint): bigint => {
  const bits = kind === "int" || kind === "uint" || kind === "uintptr" ? 64 : Number(kind.replace(/\D/g, ""));
  return kind.startsWith("u") ? BigInt.asUintN(bits, n) : BigInt.asIntN(bits, n);
};

/** Makes an integer of the given kind, wrapping like a Go conversion. Plain ints stay JS numbers when exact. */
export const makeInt = (n: bigint | number, kind: IntKind | UintKind = "int"): unknown => {
  const b = wrap(kind, typeof n === "bigint" ? n : BigInt(Math.trunc(n)));
  if (kind === "int") return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  return new GoNumber(kind, b);
};

/** A float64: plain JS number when it can't be mistaken for an int. */
export const makeFloat = (x: number, kind: FloatKind = "float64"): unknown =>
  kind === "float64" && !Number.isInteger(x) ? x : new GoNumber(kind, kind === "float32" ? Math.fround(x) : x);

/** The zero value of a Go type (reflect.Zero). */
export const zeroOf = (t: string): unknown => {
  const k = kindOfType(t);
  if (isIntKind(k) || isUintKind(k)) return makeInt(0n, k as IntKind);
  if (isFloatKind(k)) return makeFloat(0, k as FloatKind);
  switch (k) {
    case "bool": return false;
    case "string": return "";
    case "complex128": return new GoComplex(0, 0);
    case "reflect": return undefined;
    default: return null;
  }
};

/** Whether v can be used where a value of Go type typ is expected (reflect's AssignableTo). */
export const assignableTo = (v: unknown, typ: string): boolean => {
  const k = kindOfType(typ);
  if (typ === "interface {}") return true;
  if (typ === "error") return v instanceof Error || methodByName(v, "Error") !== undefined;
  if (typ === "fmt.Stringer") return methodByName(v, "String") !== undefined;
  if (k === "func" && typeof v === "function") return true;
  return typeOf(v) === typ;
};

export const canBeNil = (typ: string): boolean => {
  const k = kindOfType(typ);
  return k === "interface" || k === "reflect" || k === "ptr" || k === "slice" || k === "map" || k === "func";
};

const isExported = (name: string): boolean => /^\p{Lu}/u.test(name);

/** A Go method: an exported function on the prototype chain of a struct value. */
export const methodByName = (v: unknown, name: string): ((...args: unknown[]) => unknown) | undefined => {
  if (!isStruct(v) || !isExported(name)) return undefined;
  let p = Object.getPrototypeOf(v);
  while (p && p !== Object.prototype) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d && typeof d.value === "function" && name !== "constructor") {
      const fn = d.value as (...args: unknown[]) => unknown;
      const bound = (...args: unknown[]) => fn.apply(v, args);
      const sig = (fn as { [GO_SIGNATURE]?: Signature })[GO_SIGNATURE];
      return sig ? goFunc(sig, bound) : goFunc({ in: Array(fn.length).fill("interface {}"), out: "interface {}", err: true }, bound);
    }
    p = Object.getPrototypeOf(p);
  }
  return undefined;
};

/** The fields of a struct value, in declaration order. */
export const structFields = (v: object): [string, unknown][] => Object.entries(v);

/** Float text for %v, shared by printing and error messages. */
export const floatString = (x: number, kind: FloatKind = "float64"): string =>
  formatFloat(x, "g", -1, kind === "float32" ? 32 : 64);
