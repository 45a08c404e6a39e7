// Go's exec_test.go execTests (table generated in tables/exec-tests.ts), run against our engine
// with exec_test.go's T value and functions rebuilt in exec-fixtures.ts. Like Go's testExecute, a
// failing case (ok: false) must fail; its message is not compared (the differential test does that).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Template } from "../../src/template/template.js";
import { GoNumber, withGoType } from "../../src/template/value.js";
import { testFuncs, tVal } from "./exec-fixtures.js";
import type { ExecTest } from "./tables/exec-tests.js";
import { execTests } from "./tables/exec-tests.js";

/** Cases that rest on Go-only features, each with its reason. */
export const skipped: Record<string, string> = {
  "dot struct": "anonymous struct with unexported fields: json.Marshal drops them, so the data cannot be expressed",
  "(*V)(nil).String()": "method on a nil pointer receiver: the value model has no typed nil pointers",
  "(*W)(nil).Error()": "method on a nil pointer receiver: the value model has no typed nil pointers",
  NIL: "fmt prints a nil *int as <nil>; our nil is an interface nil, which a pipeline prints as <no value>",
  ".NilOKFunc not nil": "passes a *int: the value model has no pointers",
  "method on nil value from slice": "method call on a nil *T slice element: no typed nil pointers",
  "method on typed nil interface value": "typed nil pointer inside an interface: no typed nil pointers",
  "Interface Call": "the data holds a *bytes.Buffer (a fmt.Stringer), which json.Marshal turns into {}",
  "html typed nil": "html of a nil *int prints <nil> in Go: no typed nil pointers",
  "len(s) < indexes < cap(s)": "slices whose capacity exceeds their length: JS arrays have no capacity",
  "range count": "ranges over a channel: channels are not part of the value model",
  "range nil count": "ranges over a nil channel: channels are not part of the value model",
};

const dataOf = (t: ExecTest): unknown => {
  switch (t.data) {
    case "tVal": return tVal();
    case "nil": return undefined;
    case "json":
      switch (t.type) {
        case "uint": return new GoNumber("uint", BigInt(t.json as number));
        case "int32": return new GoNumber("int32", BigInt(t.json as number));
        case "float64": return Number.isInteger(t.json) ? new GoNumber("float64", t.json as number) : t.json;
        case "[]int": return withGoType([...(t.json as number[])], "[]int");
        case "map[string]int": return withGoType({ ...(t.json as object) }, "map[string]int");
        case "map[string]string": return withGoType({ ...(t.json as object) }, "map[string]string");
        default: return t.json;
      }
  }
  return undefined;
};

for (const t of execTests) {
  const skip = t.data === "unsupported" ? `data of Go type ${t.type} has no JSON-like equivalent` : skipped[t.name] ?? false;
  test(t.name, { skip }, async () => {
    const tmpl = new Template(t.name).funcs(testFuncs).parse(t.input);
    let out = "";
    let err: unknown;
    try {
      out = await tmpl.execute(dataOf(t));
    } catch (e) {
      err = e;
    }
    if (!t.ok) {
      assert.ok(err, "expected error; got none");
      return;
    }
    assert.equal(err, undefined, `unexpected execute error: ${(err as Error)?.message}`);
    assert.equal(out, t.output);
  });
}
