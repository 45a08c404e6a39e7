// Renders one corpus case with our engine the way goref renders it with Go's.
import { jsonData } from "../../src/template/encoding.js";
import { ExecError } from "../../src/template/exec.js";
import { ParseError } from "../../src/template/parse.js";
import { sprigFuncs } from "../../src/template/sprig.js";
import { Template } from "../../src/template/template.js";
import { goFunc } from "../../src/template/value.js";
import type { GoCase, GoResult } from "./goref.js";

export const defaultNow = "2024-01-02T03:04:05Z";

export const renderCase = async (c: GoCase): Promise<GoResult> => {
  const t = new Template(c.name);
  const now = Date.parse(c.now ?? defaultNow);
  try {
    if (c.sprig) t.funcs(sprigFuncs({ now: () => now }));
    t.funcs({
      secret: goFunc({ in: ["string", "string", "string", "string"], variadic: true, out: "[]interface {}", err: true }, async () => c.secrets ?? null),
    });
    if (c.delims) t.delims(c.delims[0], c.delims[1]);
    if (c.options) t.option(...c.options);
    t.parse(c.template);
  } catch (e) {
    if (e instanceof ParseError) return { output: "", error: e.message };
    return { output: "", error: `panic: ${(e as Error).message}` };
  }
  try {
    // goref decodes the data from JSON; so do we, as `kms template render --data` does.
    return { output: await t.execute(c.data === undefined ? undefined : jsonData(JSON.stringify(c.data))), error: null };
  } catch (e) {
    if (e instanceof ExecError) return { output: (e as ExecError & { partialOutput?: string }).partialOutput ?? "", error: e.message };
    return { output: "", error: `panic: ${(e as Error).message}` };
  }
};
