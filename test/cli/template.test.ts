// `kms template render`: called through commander like the real CLI, and through bin/kms.js once
// src/cli/main.ts registers the command.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TemplateCommandIO } from "../../src/cli/template.js";
import { renderTemplateFile, templateCommand } from "../../src/cli/template.js";
import { goFunc } from "../../src/template/value.js";

const dir = mkdtempSync(join(tmpdir(), "kms-template-cli-"));
const write = (name: string, body: string): string => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};

const run = async (args: string[], extraFuncs?: Parameters<typeof templateCommand>[0]) => {
  let stdout = "";
  let stderr = "";
  let code = 0;
  const io: TemplateCommandIO = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), setExitCode: (c) => (code = c) };
  await templateCommand(extraFuncs, io).parseAsync(["node", "kms", ...args]);
  return { stdout, stderr, code };
};

test("render with --data", async () => {
  const tpl = write("app.env.tpl", "{{range .secrets}}{{.Key}}={{.Value | quote}}\n{{end}}");
  const data = write("data.json", JSON.stringify({ secrets: [{ Key: "A", Value: "1" }, { Key: "B", Value: "x y" }] }));
  assert.deepEqual(await run(["render", tpl, "--data", data]), { stdout: 'A="1"\nB="x y"\n', stderr: "", code: 0 });
});

test("--data numbers: an int up to 2^53-1, a float64 beyond (as Go's decoder, not a rounded int)", async () => {
  const tpl = write("numbers.tpl", '{{printf "%T %v|%T %v|%T %v" .big .big .e20 .e20 .max .max}}');
  const data = write("numbers.json", '{"big": 9007199254740993, "e20": 1e20, "max": 9007199254740991}');
  assert.deepEqual(await run(["render", tpl, "--data", data]), { stdout: "float64 9.007199254740992e+15|float64 1e+20|int 9007199254740991", stderr: "", code: 0 });
});

test("render without --data uses an empty map", async () => {
  const tpl = write("empty.tpl", "[{{.missing}}] {{len .}}");
  assert.deepEqual(await run(["render", tpl]), { stdout: "[<no value>] 0", stderr: "", code: 0 });
});

test("parse error: Go's text on stderr, exit 1", async () => {
  const tpl = write("bad.tpl", "line\n{{if}}");
  assert.deepEqual(await run(["render", tpl]), { stdout: "", stderr: "template: bad.tpl:2: missing value for if\n", code: 1 });
});

test("exec error: Go's text on stderr, exit 1, no partial output", async () => {
  const tpl = write("exec.tpl", "a{{index .l 5}}");
  const data = write("l.json", '{"l":[1]}');
  const r = await run(["render", tpl, "--data", data]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, 'template: exec.tpl:1:3: executing "exec.tpl" at <index .l 5>: error calling index: index out of range: 5\n');
});

test("a file that cannot be used is named, with exit 2: a missing template, a template that is a directory, a bad --data file", async () => {
  assert.deepEqual(await run(["render", join(dir, "nope.tpl")]), { stdout: "", stderr: `template file ${JSON.stringify(join(dir, "nope.tpl"))} does not exist\n`, code: 2 });
  assert.deepEqual(await run(["render", dir]), { stdout: "", stderr: `template file ${JSON.stringify(dir)} is a directory\n`, code: 2 });
  const tpl = write("data-user.tpl", "{{.x}}");
  const bad = write("bad.json", '{"x": ');
  const r = await run(["render", tpl, "--data", bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`^--data file ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is not valid JSON: `));
  assert.deepEqual(await run(["render", tpl, "--data", join(dir, "none.json")]), { stdout: "", stderr: `--data file ${JSON.stringify(join(dir, "none.json"))} does not exist\n`, code: 2 });
});

test("offline, every agent function is known: a template using dynamic_secret parses; a call says it needs --address", async () => {
  const tpl = write("dyn.tpl", '{{ if .live }}{{ with dynamic_secret "app" "dev" "/" "pg" "1m" }}{{ .DB_USERNAME }}{{ end }}{{ getSecretByName "p" "dev" "/" "K" }}{{ listSecretsByProjectSlug "s" "dev" "/" }}{{ dynamicSecret "a" "b" "/" "c" }}{{ end }}ok');
  assert.deepEqual(await run(["render", tpl]), { stdout: "ok", stderr: "", code: 0 });
  const live = write("dyn-live.json", '{"live": true}');
  const r = await run(["render", tpl, "--data", live]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'template: dyn.tpl:1:22: executing "dyn.tpl" at <dynamic_secret "app" "dev" "/" "pg" "1m">: error calling dynamic_secret: reads from the KMS: pass --address URL and set KMS_TOKEN to preview with live secrets\n');
  const wrong = write("dyn-wrong.tpl", '{{ secret "p" }}');
  assert.match((await run(["render", wrong])).stderr, /wrong number of args for secret: want at least 3 got 1/);
});

test("extraFuncs hook: an async secret function", async () => {
  const secret = goFunc({ in: ["string", "string", "string", "string"], variadic: true, out: "[]interface {}", err: true },
    async (project: string, env: string) => [{ Key: "K", Value: `${project}/${env}`, SecretPath: "/" }]);
  const seed = '{{- with secret "6553ccb2b7da580d7f6e7260" "dev" "/" `{"recursive": false, "expandSecretReferences": true}` }}\n{{- range . }}\n{{ .Key }}={{ .Value }}\n{{- end }}\n{{- end }}\n';
  const tpl = write("seed.tpl", seed);
  const r = await run(["render", tpl], { secret });
  assert.deepEqual(r, { stdout: "\nK=6553ccb2b7da580d7f6e7260/dev\n", stderr: "", code: 0 });
  assert.equal(await renderTemplateFile(tpl, { extraFuncs: { secret } }), "\nK=6553ccb2b7da580d7f6e7260/dev\n");
});

const mainSource = readFileSync(new URL("../../src/cli/main.ts", import.meta.url), "utf8");
test("bin/kms.js template render", { skip: mainSource.includes("templateCommand") ? false : "src/cli/main.ts does not register templateCommand yet" }, () => {
  const tpl = write("bin.tpl", "{{.n | printf \"%03d\"}}");
  const data = write("bin.json", '{"n": 7}');
  const r = spawnSync(process.execPath, [new URL("../../bin/kms.js", import.meta.url).pathname, "template", "render", tpl, "--data", data], { encoding: "utf8" });
  assert.equal(r.stdout, "007");
  assert.equal(r.status, 0);
});
