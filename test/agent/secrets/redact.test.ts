import assert from "node:assert/strict";
import { test } from "node:test";
import { redactError, redactValues } from "../../../src/agent/secrets/redact.js";

const cases: { name: string; message: string; values: string[]; want: string }[] = [
  {
    name: "a struct printed by range",
    message: `template: app.tpl:1:39: executing "app.tpl" at <"DB_PASS">: range can't iterate over {DB_PASS  p@ss'w"rd    []   false}`,
    values: [`p@ss'w"rd`],
    want: `template: app.tpl:1:39: executing "app.tpl" at <"DB_PASS">: range can't iterate over {DB_PASS  [REDACTED]    []   false}`,
  },
  {
    name: "quoted with escapes (strconv, JSON)",
    message: `error calling atoi: strconv.Atoi: parsing "a\\"b\\nc": invalid syntax; json "a\\"b\\nc"`,
    values: ['a"b\nc'],
    want: `error calling atoi: strconv.Atoi: parsing "[REDACTED]": invalid syntax; json "[REDACTED]"`,
  },
  { name: "a value that contains another goes whole", message: "x hunter22 y hunter2 z", values: ["hunter2", "hunter22"], want: "x [REDACTED] y [REDACTED] z" },
  { name: "every occurrence", message: "s3cr3t and s3cr3t", values: ["s3cr3t"], want: "[REDACTED] and [REDACTED]" },
  {
    name: "a short value only where it stands alone; the location stays",
    message: "template: t:1:3: executing \"t\" at <1>: {K 1 x12} 1",
    values: ["1"],
    want: "template: t:1:3: executing \"t\" at <[REDACTED]>: {K [REDACTED] x12} [REDACTED]",
  },
  { name: "a replacement is never matched again", message: "ACTED", values: ["ACTED", "RED"], want: "[REDACTED]" },
  { name: "empty values change nothing", message: "template: t:1: nothing", values: [""], want: "template: t:1: nothing" },
];
for (const c of cases) test(c.name, () => assert.equal(redactValues(c.message, c.values), c.want));

test("redactError drops the cause, which still holds the value", () => {
  const e = redactError(new Error("bad p@ssword", { cause: new Error("p@ssword") }), new Set(["p@ssword"]));
  assert.equal(e.message, "bad [REDACTED]");
  assert.equal(e.cause, undefined);
});
