// exec_test.go's T value (tVal) and test functions, in our value model: a class instance is a Go
// struct, its prototype methods are Go methods, typed containers carry their Go type.
import { sprint, sprintf, sprintln } from "../../src/template/fmt.js";
import { Template } from "../../src/template/template.js";
import { GoComplex, GoNumber, goFunc, methodByName, withGoType } from "../../src/template/value.js";

const sig = goFunc;

export class U {
  constructor(public V: string) {}
  TrueFalse(b: boolean): string {
    return b ? "true" : "";
  }
}
sig({ in: ["bool"], out: "string" }, U.prototype.TrueFalse);
withGoType(U.prototype, "*template.U");

export class V {
  constructor(public j: number) {}
  String(): string {
    return `<${this.j}>`;
  }
}
withGoType(V.prototype, "template.V");

export class W {
  constructor(public k: number) {}
  Error(): string {
    return `[${this.k}]`;
  }
}
withGoType(W.prototype, "template.W");

const myError = new Error("my error");

export class T {
  True = true;
  I = 17;
  U16 = new GoNumber("uint16", 16n);
  X = "x";
  S = "xyz";
  FloatZero = new GoNumber("float64", 0);
  ComplexZero = new GoComplex(0, 0);
  U: U | null = new U("v");
  V0 = new V(6666);
  V1: V | null = new V(7777);
  V2: V | null = null; // a nil *V
  W2: W | null = null; // a nil *W
  NIL: number | null = null; // a nil *int
  NonEmptyInterfaceNil: unknown = null;
  NonEmptyInterfaceTypedNil: unknown = null; // Go: (*T)(nil) in an interface; we have no typed nil
  NonEmptyInterfacePtS = withGoType(["a", "b"], "template.S");
  NilOKFunc = sig({ in: ["*int"], out: "bool" }, (s: unknown) => s === null);
  W0 = new W(888);
  W1: W | null = new W(999);
  SI = withGoType([3, 4, 5], "[]int");
  SICap = withGoType([0, 0, 0, 0, 0], "[]int");
  SIEmpty = withGoType([] as number[], "[]int");
  SB = withGoType([true, false], "[]bool");
  AI = withGoType([3, 4, 5], "[3]int");
  MSI = withGoType({ one: 1, two: 2, three: 3 }, "map[string]int");
  MSIone = withGoType({ one: 1 }, "map[string]int");
  MSIEmpty = withGoType({}, "map[string]int");
  MXI = withGoType({ one: 1 }, "map[interface {}]int");
  MII = withGoType({ 1: 1 }, "map[int]int");
  MI32S = withGoType({ 1: "one", 2: "two" }, "map[int32]string");
  MI64S = withGoType({ 2: "i642", 3: "i643" }, "map[int64]string");
  MUI32S = withGoType({ 2: "u322", 3: "u323" }, "map[uint32]string");
  MUI64S = withGoType({ 2: "ui642", 3: "ui643" }, "map[uint64]string");
  MI8S = withGoType({ 2: "i82", 3: "i83" }, "map[int8]string");
  MUI8S = withGoType({ 2: "u82", 3: "u83" }, "map[uint8]string");
  SMSI = withGoType([withGoType({ one: 1, two: 2 }, "map[string]int"), withGoType({ eleven: 11, twelve: 12 }, "map[string]int")], "[]map[string]int");
  Empty0: unknown = null;
  Empty1: unknown = 3;
  Empty2: unknown = "empty2";
  Empty3: unknown = withGoType([7, 8], "[]int");
  Empty4: unknown = new U("UinEmpty");
  NonEmptyInterface: unknown = null;
  Str = new (class Buffer {
    String(): string {
      return "foozle";
    }
  })();
  Err = new Error("erroozle");
  PI = 23;
  PS = "a string";
  PSI = withGoType([21, 22, 23], "[]int");
  BinaryFunc = sig({ in: ["string", "string"], out: "string" }, (a: string, b: string) => `[${a}=${b}]`);
  VariadicFunc = sig({ in: ["string"], variadic: true, out: "string" }, (...s: string[]) => sprint("<", s.join("+"), ">"));
  VariadicFuncInt = sig({ in: ["int", "string"], variadic: true, out: "string" }, (a: number, ...s: string[]) => sprint(a, "=<", s.join("+"), ">"));
  ErrFunc = sig({ in: [], out: "string", err: true }, () => "bla");
  PanicFunc = sig({ in: [], out: "string" }, (): string => {
    throw new Error("test panic");
  });
  Tmpl = new Template("x").parse("test template");
  unexported = 0;

  Method0(): string {
    return "M0";
  }
  Method1(a: number): number {
    return a;
  }
  Method2(a: unknown, b: string): string {
    return sprintf("Method2: %d %s", a, b);
  }
  Method3(v: unknown): string {
    return sprintf("Method3: %v", v);
  }
  Copy(): T {
    return Object.assign(new T(), this);
  }
  MAdd(a: number, b: number[]): number[] {
    return withGoType(b.map((x) => x + a), "[]int");
  }
  MyError(error: boolean): boolean {
    if (error) throw myError;
    return false;
  }
  GetU(): U | null {
    return this.U;
  }
}
sig({ in: [], out: "string" }, T.prototype.Method0);
sig({ in: ["int"], out: "int" }, T.prototype.Method1);
sig({ in: ["uint16", "string"], out: "string" }, T.prototype.Method2);
sig({ in: ["interface {}"], out: "string" }, T.prototype.Method3);
sig({ in: [], out: "*template.T" }, T.prototype.Copy);
sig({ in: ["int", "[]int"], out: "[]int" }, T.prototype.MAdd);
sig({ in: ["bool"], out: "bool", err: true }, T.prototype.MyError);
sig({ in: [], out: "*template.U" }, T.prototype.GetU);
withGoType(T.prototype, "*template.T");

export const tVal = (): T => {
  const t = new T();
  const inner = new T();
  t.NonEmptyInterface = inner;
  return t;
};

/** exec_test.go's testExecute function map. */
export const testFuncs = {
  add: sig({ in: ["int"], variadic: true, out: "int" }, (...args: number[]) => args.reduce((a, b) => a + b, 0)),
  dddArg: sig({ in: ["int", "string"], variadic: true, out: "string" }, (a: number, ...b: string[]) => sprintln(a, withGoType(b, "[]string"))),
  die: sig({ in: [], out: "bool" }, (): boolean => {
    throw new Error("die");
  }),
  echo: sig({ in: ["interface {}"], out: "interface {}" }, (arg: unknown) => arg),
  makemap: sig({ in: ["string"], variadic: true, out: "map[string]string" }, (...arg: string[]) => {
    if (arg.length % 2 !== 0) throw new Error("bad makemap");
    const m: Record<string, string> = {};
    for (let i = 0; i < arg.length; i += 2) m[arg[i]] = arg[i + 1];
    return withGoType(m, "map[string]string");
  }),
  mapOfThree: sig({ in: [], out: "interface {}" }, () => withGoType({ three: 3 }, "map[string]int")),
  oneArg: sig({ in: ["string"], out: "string" }, (a: string) => "oneArg=" + a),
  returnInt: sig({ in: [], out: "int" }, () => 7),
  stringer: sig({ in: ["fmt.Stringer"], out: "string" }, (s: unknown) => String(methodByName(s, "String")!())),
  twoArgs: sig({ in: ["string", "string"], out: "string" }, (a: string, b: string) => "twoArgs=" + a + b),
  typeOf: sig({ in: ["interface {}"], out: "string" }, (arg: unknown) => sprintf("%T", arg)),
  valueString: sig({ in: ["string"], out: "string" }, () => "value is ignored"),
  // Go's vfunc(V, *V) relies on addressable fields converting to pointers; in our model both are V.
  vfunc: sig({ in: ["interface {}", "interface {}"], out: "string" }, () => "vfunc"),
  zeroArgs: sig({ in: [], out: "string" }, () => "zeroArgs"),
};
