// Go's fmt Sprint, Sprintf and Sprintln over the value model of value.ts: a port of the printing
// half of fmt/print.go and fmt/format.go (verbs, flags, width, precision, argument indexes and the
// %!verb(type=value) error forms). Scanning and %p are out of scope.
import { canBackquote, formatFloat, isPrint, quote, quoteRune, quoteRuneToASCII, quoteToASCII } from "./strconv.js";
import type { GoComplex } from "./value.js";
import {
  floatOf, intOf, isFloatKind, isIntKind, isUintKind, kindOf, methodByName,
  structFields, typeOf,
} from "./value.js";

interface Flags {
  plus: boolean; minus: boolean; sharp: boolean; space: boolean; zero: boolean;
  plusV: boolean; sharpV: boolean;
  wid: number; widPresent: boolean; prec: number; precPresent: boolean;
}

const newFlags = (): Flags => ({
  plus: false, minus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false,
  wid: 0, widPresent: false, prec: 0, precPresent: false,
});

const runeCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

class Printer {
  buf: string[] = [];
  f: Flags = newFlags();
  private erroring = false;
  private arg: unknown;

  write(s: string): void {
    this.buf.push(s);
  }

  private padding(n: number): string {
    return n > 0 ? (this.f.zero ? "0" : " ").repeat(n) : "";
  }

  pad(s: string): void {
    if (!this.f.widPresent || this.f.wid === 0) {
      this.write(s);
      return;
    }
    const width = this.f.wid - runeCount(s);
    if (!this.f.minus) this.write(this.padding(width) + s);
    else this.write(s + this.padding(width));
  }

  private truncate(s: string): string {
    if (this.f.precPresent) {
      const chars = [...s];
      if (chars.length > this.f.prec) return chars.slice(0, this.f.prec).join("");
    }
    return s;
  }

  fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  private fmtSx(s: string, digits: string): void {
    const bytes = Buffer.from(s, "utf8");
    let length = bytes.length;
    if (this.f.precPresent && this.f.prec < length) length = this.f.prec;
    const out: string[] = [];
    for (let i = 0; i < length; i++) {
      if (this.f.space && i > 0) out.push(" ");
      if (this.f.sharp && (this.f.space || i === 0)) out.push("0", digits[16]);
      out.push(digits[bytes[i] >> 4], digits[bytes[i] & 15]);
    }
    const oldZero = this.f.zero;
    this.f.zero = false;
    this.pad(out.join(""));
    this.f.zero = oldZero;
  }

  private fmtQ(s: string): void {
    s = this.truncate(s);
    if (this.f.sharp && canBackquote(s)) this.pad("`" + s + "`");
    else if (this.f.plus) this.pad(quoteToASCII(s));
    else this.pad(quote(s));
  }

  fmtInteger(v: bigint, base: number, signed: boolean, verb: string, upper: boolean): void {
    const digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
    const negative = signed && v < 0n;
    let u = negative ? -v : v;
    let prec = 0;
    if (this.f.precPresent) {
      prec = this.f.prec;
      if (prec === 0 && u === 0n) {
        const oldZero = this.f.zero;
        this.f.zero = false;
        this.write(this.padding(this.f.wid));
        this.f.zero = oldZero;
        return;
      }
    } else if (this.f.zero && this.f.widPresent) {
      prec = this.f.wid;
      if (negative || this.f.plus || this.f.space) prec--;
    }
    let s = "";
    if (u === 0n) s = "0";
    const b = BigInt(base);
    while (u > 0n) {
      s = digits[Number(u % b)] + s;
      u /= b;
    }
    if (s.length < prec) s = "0".repeat(prec - s.length) + s;
    if (this.f.sharp) {
      if (base === 2) s = "0b" + s;
      else if (base === 8 && s[0] !== "0") s = "0" + s;
      else if (base === 16) s = "0" + digits[16] + s;
    }
    if (verb === "O") s = "0o" + s;
    if (negative) s = "-" + s;
    else if (this.f.plus) s = "+" + s;
    else if (this.f.space) s = " " + s;
    const oldZero = this.f.zero;
    this.f.zero = false;
    this.pad(s);
    this.f.zero = oldZero;
  }

  fmtFloat(v: number, size: number, verb: string, prec: number): void {
    if (this.f.precPresent) prec = this.f.prec;
    let num = formatFloat(v, verb, prec, size);
    if (num[0] === "-" || num[0] === "+") {
      // keep
    } else num = "+" + num;
    if (this.f.space && num[0] === "+" && !this.f.plus) num = " " + num.slice(1);
    if (num[1] === "I" || num[1] === "N") {
      const oldZero = this.f.zero;
      this.f.zero = false;
      if (num[1] === "N" && !this.f.space && !this.f.plus) num = num.slice(1);
      this.pad(num);
      this.f.zero = oldZero;
      return;
    }
    if (this.f.sharp && verb !== "b") num = sharpFloat(num, verb, prec);
    if (this.f.plus || num[0] !== "+") {
      if (this.f.zero && this.f.widPresent && this.f.wid > num.length) {
        this.write(num[0]);
        this.write("0".repeat(this.f.wid - num.length));
        this.write(num.slice(1));
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  private printFloat(v: number, size: number, verb: string): void {
    switch (verb) {
      case "v": this.fmtFloat(v, size, "g", -1); break;
      case "b": case "g": case "G": case "x": case "X": this.fmtFloat(v, size, verb, -1); break;
      case "f": case "e": case "E": case "F": this.fmtFloat(v, size, verb, 6); break;
      default: this.badVerb(verb);
    }
  }

  private printComplex(v: GoComplex, verb: string): void {
    if (!"vbgGxXfFeE".includes(verb)) {
      this.badVerb(verb);
      return;
    }
    const oldPlus = this.f.plus;
    this.write("(");
    this.printFloat(v.re, 64, verb);
    this.f.plus = true;
    this.printFloat(v.im, 64, verb);
    this.write("i)");
    this.f.plus = oldPlus;
  }

  private printInt(v: bigint, signed: boolean, verb: string): void {
    switch (verb) {
      case "v":
      case "d": this.fmtInteger(v, 10, signed, verb, false); break;
      case "b": this.fmtInteger(v, 2, signed, verb, false); break;
      case "o": case "O": this.fmtInteger(v, 8, signed, verb, false); break;
      case "x": this.fmtInteger(v, 16, signed, verb, false); break;
      case "X": this.fmtInteger(v, 16, signed, verb, true); break;
      case "c": this.pad(String.fromCodePoint(validRune(v))); break;
      case "q": {
        const r = validRune(v);
        this.pad(this.f.plus ? quoteRuneToASCII(r) : quoteRune(r));
        break;
      }
      case "U": {
        let s = "U+" + v.toString(16).toUpperCase().padStart(Math.max(4, this.f.precPresent ? this.f.prec : 0), "0");
        if (v < 0n) s = "U+" + BigInt.asUintN(64, v).toString(16).toUpperCase();
        if (this.f.sharp && v >= 0n && v <= 0x10ffffn && isPrint(Number(v))) s += " '" + String.fromCodePoint(Number(v)) + "'";
        const oldZero = this.f.zero;
        this.f.zero = false;
        this.pad(s);
        this.f.zero = oldZero;
        break;
      }
      default: this.badVerb(verb);
    }
  }

  private printString(s: string, verb: string): void {
    switch (verb) {
      case "v":
        if (this.f.sharpV) this.fmtQ(s);
        else this.fmtS(s);
        break;
      case "s": this.fmtS(s); break;
      case "x": this.fmtSx(s, "0123456789abcdefx"); break;
      case "X": this.fmtSx(s, "0123456789ABCDEFX"); break;
      case "q": this.fmtQ(s); break;
      default: this.badVerb(verb);
    }
  }

  badVerb(verb: string): void {
    this.erroring = true;
    this.write("%!" + verb + "(");
    const arg = this.arg;
    if (arg === null || arg === undefined) this.write("<nil>");
    else {
      this.write(typeOf(arg) + "=");
      this.printArg(arg, "v");
    }
    this.write(")");
    this.erroring = false;
  }

  private handleMethods(v: unknown, verb: string): boolean {
    if (this.erroring) return false;
    // Go syntax asks a GoStringer only: Error and String are not Go syntax.
    if (this.f.sharpV) {
      const goFn = methodByName(v, "GoString");
      if (!goFn) return false;
      this.fmtS(String(goFn()));
      return true;
    }
    if (!"vsxXq".includes(verb)) return false;
    if (v instanceof Error) {
      this.printString(v.message, verb);
      return true;
    }
    const errFn = methodByName(v, "Error");
    if (errFn) {
      this.printString(String(errFn()), verb);
      return true;
    }
    const strFn = methodByName(v, "String");
    if (strFn) {
      this.printString(String(strFn()), verb);
      return true;
    }
    return false;
  }

  printArg(arg: unknown, verb: string): void {
    this.arg = arg;
    if (arg === null || arg === undefined) {
      if (verb === "T" || verb === "v") this.pad("<nil>");
      else this.badVerb(verb);
      return;
    }
    if (verb === "T") {
      this.fmtS(typeOf(arg));
      return;
    }
    this.printValue(arg, verb, 0);
  }

  printValue(v: unknown, verb: string, depth: number): void {
    if (depth > 0) this.arg = v;
    const k = kindOf(v);
    if (k === "bool") {
      if (verb === "t" || verb === "v") this.pad(v ? "true" : "false");
      else this.badVerb(verb);
      return;
    }
    if (isIntKind(k)) return this.printInt(intOf(v), true, verb);
    if (isUintKind(k)) return this.printInt(BigInt.asUintN(64, intOf(v)), false, verb);
    if (isFloatKind(k)) return this.printFloat(floatOf(v), k === "float32" ? 32 : 64, verb);
    switch (k) {
      case "complex128": return this.printComplex(v as GoComplex, verb);
      case "string": return this.printString(v as string, verb);
      case "invalid":
      case "interface":
        // A nil inside a slice or map is an interface {} holding nothing: Go's %#v names the type.
        if (verb === "v") this.pad(this.f.sharpV && depth > 0 ? "interface {}(nil)" : "<nil>");
        else this.badVerb(verb);
        return;
      case "func":
        if (verb === "v" || verb === "p") this.fmtInteger(0xc000010000n, 16, false, verb, false);
        else this.badVerb(verb);
        return;
    }
    if (this.handleMethods(v, verb)) return;
    // %#v is Go syntax: the type, then the elements in braces, separated by ", ".
    const sharpV = this.f.sharpV;
    const sep = sharpV ? ", " : " ";
    if (k === "map") {
      const o = v as Record<string, unknown>;
      this.write(sharpV ? typeOf(v) + "{" : "map[");
      const keys = Object.keys(o).sort(compareKeys);
      keys.forEach((key, i) => {
        if (i > 0) this.write(sep);
        this.printValue(key, verb, depth + 1);
        this.write(":");
        this.printValue(o[key], verb, depth + 1);
      });
      this.write(sharpV ? "}" : "]");
      return;
    }
    if (k === "slice") {
      this.write(sharpV ? typeOf(v) + "{" : "[");
      (v as unknown[]).forEach((e, i) => {
        if (i > 0) this.write(sep);
        this.printValue(e, verb, depth + 1);
      });
      this.write(sharpV ? "}" : "]");
      return;
    }
    // A struct: its fields in declaration order.
    this.write(sharpV ? typeOf(v) + "{" : "{");
    structFields(v as object).forEach(([name, fv], i) => {
      if (i > 0) this.write(sep);
      if (this.f.plusV || sharpV) this.write(name + ":");
      this.printValue(fv, verb, depth + 1);
    });
    this.write("}");
  }

  doPrintf(format: string, a: unknown[]): void {
    const end = format.length;
    let argNum = 0;
    let afterIndex = false;
    let reordered = false;
    let goodArgNum = true;
    const argNumber = (i: number): { argNum: number; i: number; found: boolean } => {
      if (i >= end || format[i] !== "[") return { argNum, i, found: false };
      reordered = true;
      const { index, wid, ok } = parseArgNumber(format.slice(i));
      if (ok && index >= 0 && index < a.length) return { argNum: index, i: i + wid, found: true };
      goodArgNum = false;
      return { argNum, i: i + wid, found: ok };
    };
    let i = 0;
    formatLoop: while (i < end) {
      goodArgNum = true;
      const lasti = i;
      while (i < end && format[i] !== "%") i++;
      if (i > lasti) this.write(format.slice(lasti, i));
      if (i >= end) break;
      i++;
      this.f = newFlags();
      simpleFormat: for (; i < end; i++) {
        const c = format[i];
        switch (c) {
          case "#": this.f.sharp = true; break;
          case "0": this.f.zero = !this.f.minus; break;
          case "+": this.f.plus = true; break;
          case "-": this.f.minus = true; this.f.zero = false; break;
          case " ": this.f.space = true; break;
          default:
            if (c >= "a" && c <= "z" && argNum < a.length) {
              if (c === "v") {
                this.f.sharpV = this.f.sharp;
                this.f.sharp = false;
                this.f.plusV = this.f.plus;
                this.f.plus = false;
              }
              this.printArg(a[argNum], c);
              argNum++;
              i++;
              continue formatLoop;
            }
            break simpleFormat;
        }
      }
      let r = argNumber(i);
      argNum = r.argNum; i = r.i; afterIndex = r.found;
      if (i < end && format[i] === "*") {
        i++;
        const w = intFromArg(a, argNum);
        this.f.wid = w.num; this.f.widPresent = w.isInt; argNum = w.newArgNum;
        if (!this.f.widPresent) this.write("%!(BADWIDTH)");
        if (this.f.wid < 0) { this.f.wid = -this.f.wid; this.f.minus = true; this.f.zero = false; }
        afterIndex = false;
      } else {
        const p = parsenum(format, i, end);
        this.f.wid = p.num; this.f.widPresent = p.isnum; i = p.newi;
        if (afterIndex && this.f.widPresent) goodArgNum = false;
      }
      if (i + 1 < end && format[i] === ".") {
        i++;
        if (afterIndex) goodArgNum = false;
        r = argNumber(i);
        argNum = r.argNum; i = r.i; afterIndex = r.found;
        if (i < end && format[i] === "*") {
          i++;
          const w = intFromArg(a, argNum);
          this.f.prec = w.num; this.f.precPresent = w.isInt; argNum = w.newArgNum;
          if (this.f.prec < 0) { this.f.prec = 0; this.f.precPresent = false; }
          if (!this.f.precPresent) this.write("%!(BADPREC)");
          afterIndex = false;
        } else {
          const p = parsenum(format, i, end);
          this.f.prec = p.num; this.f.precPresent = p.isnum; i = p.newi;
          if (!this.f.precPresent) { this.f.prec = 0; this.f.precPresent = true; }
        }
      }
      if (!afterIndex) {
        r = argNumber(i);
        argNum = r.argNum; i = r.i; afterIndex = r.found;
      }
      if (i >= end) {
        this.write("%!(NOVERB)");
        break;
      }
      const verb = String.fromCodePoint(format.codePointAt(i)!);
      i += verb.length;
      if (verb === "%") this.write("%");
      else if (!goodArgNum) this.write("%!" + verb + "(BADINDEX)");
      else if (argNum >= a.length) this.write("%!" + verb + "(MISSING)");
      else {
        if (verb === "v") {
          this.f.sharpV = this.f.sharp;
          this.f.sharp = false;
          this.f.plusV = this.f.plus;
          this.f.plus = false;
        }
        this.printArg(a[argNum], verb);
        argNum++;
      }
    }
    if (!reordered && argNum < a.length) {
      this.f = newFlags();
      this.write("%!(EXTRA ");
      a.slice(argNum).forEach((arg, j) => {
        if (j > 0) this.write(", ");
        if (arg === null || arg === undefined) this.write("<nil>");
        else {
          this.write(typeOf(arg) + "=");
          this.printArg(arg, "v");
        }
      });
      this.write(")");
    }
  }
}

const validRune = (v: bigint): number => (v < 0n || v > 0x10ffffn || (v >= 0xd800n && v <= 0xdfffn) ? 0xfffd : Number(v));

// Byte order of the UTF-8 encodings, which is how Go's fmtsort orders string keys.
const compareKeys = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

const tooLarge = (x: number): boolean => x > 1e6 || x < -1e6;

const parsenum = (s: string, start: number, end: number): { num: number; isnum: boolean; newi: number } => {
  if (start >= end) return { num: 0, isnum: false, newi: end };
  let num = 0;
  let isnum = false;
  let newi = start;
  for (; newi < end && s[newi] >= "0" && s[newi] <= "9"; newi++) {
    if (tooLarge(num)) return { num: 0, isnum: false, newi: end };
    num = num * 10 + (s.charCodeAt(newi) - 48);
    isnum = true;
  }
  return { num, isnum, newi };
};

const parseArgNumber = (format: string): { index: number; wid: number; ok: boolean } => {
  if (format.length < 3) return { index: 0, wid: 1, ok: false };
  for (let i = 1; i < format.length; i++) {
    if (format[i] === "]") {
      const p = parsenum(format, 1, i);
      if (!p.isnum || p.newi !== i) return { index: 0, wid: i + 1, ok: false };
      return { index: p.num - 1, wid: i + 1, ok: true };
    }
  }
  return { index: 0, wid: 1, ok: false };
};

const intFromArg = (a: unknown[], argNum: number): { num: number; isInt: boolean; newArgNum: number } => {
  let num = 0;
  let isInt = false;
  let newArgNum = argNum;
  if (argNum < a.length) {
    const k = kindOf(a[argNum]);
    if (isIntKind(k) || isUintKind(k)) {
      const n = intOf(a[argNum]);
      if (n >= -(1n << 63n) && n < 1n << 63n) {
        num = Number(n);
        isInt = true;
      }
    }
    newArgNum = argNum + 1;
    if (tooLarge(num)) {
      num = 0;
      isInt = false;
    }
  }
  return { num, isInt, newArgNum };
};

// The '#' flag for floats (format.go fmtFloat): keep the decimal point and, for %v %g %G %x, pad the
// significant digits to the precision (6 when none is given). In hex, e and E are digits.
const sharpFloat = (num: string, verb: string, prec: number): string => {
  let digits = 0;
  if (verb === "v" || verb === "g" || verb === "G" || verb === "x") {
    digits = prec;
    if (digits === -1) digits = 6;
  }
  let tail = "";
  let hasPoint = false;
  let sawNonzero = false;
  for (let i = 1; i < num.length; i++) {
    const c = num[i];
    if (c === ".") hasPoint = true;
    else if (c === "p" || c === "P" || ((c === "e" || c === "E") && verb !== "x" && verb !== "X")) {
      tail = num.slice(i);
      num = num.slice(0, i);
      break;
    } else {
      if (c !== "0") sawNonzero = true;
      if (sawNonzero) digits--;
    }
  }
  if (!hasPoint) {
    if (num.length === 2 && num[1] === "0") digits--;
    num += ".";
  }
  while (digits > 0) {
    num += "0";
    digits--;
  }
  return num + tail;
};

/** fmt.Sprint: spaces between operands when neither side is a string. */
export const sprint = (...a: unknown[]): string => {
  const p = new Printer();
  let prevString = false;
  a.forEach((arg, i) => {
    const isString = typeof arg === "string";
    if (i > 0 && !isString && !prevString) p.write(" ");
    p.f = newFlags();
    p.printArg(arg, "v");
    prevString = isString;
  });
  return p.buf.join("");
};

/** fmt.Sprintln: spaces between all operands and a newline. */
export const sprintln = (...a: unknown[]): string => {
  const p = new Printer();
  a.forEach((arg, i) => {
    if (i > 0) p.write(" ");
    p.f = newFlags();
    p.printArg(arg, "v");
  });
  p.write("\n");
  return p.buf.join("");
};

export const sprintf = (format: string, ...a: unknown[]): string => {
  const p = new Printer();
  p.doPrintf(format, a);
  return p.buf.join("");
};

