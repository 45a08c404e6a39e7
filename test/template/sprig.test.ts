// Sprig subset and the async surface: a table of Sprig cases (Go's output, checked against Go by the
// differential test when Sprig is installed), the injected clock, and async function calls.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncFunctionError, ExecError } from "../../src/template/exec.js";
import { sprigFuncs } from "../../src/template/sprig.js";
import { Template } from "../../src/template/template.js";

process.env.TZ = "UTC";
const now = Date.UTC(2024, 0, 2, 3, 4, 5);
const render = (src: string, data: unknown = {}) => new Template("t").funcs(sprigFuncs({ now: () => now })).parse(src).executeSync(data);

const cases: { name: string; input: string; data?: unknown; output: string }[] = [
  { name: "default", input: '{{default "d" .x}}|{{default "d" "v"}}', output: "d|v" },
  { name: "empty", input: '{{empty ""}} {{empty 0}} {{empty (list)}} {{empty "x"}}', output: "true true true false" },
  { name: "coalesce", input: '{{coalesce "" 0 "x"}}', output: "x" },
  { name: "ternary", input: '{{ternary "a" "b" false}}', output: "b" },
  { name: "case", input: '{{upper "aé"}} {{lower "AÉ"}} {{title "hello world"}}', output: "AÉ aé Hello World" },
  { name: "trim", input: '[{{trim "  x "}}][{{trimAll "-" "--x--"}}][{{trimPrefix "a" "abc"}}][{{trimSuffix "c" "abc"}}]', output: "[x][x][bc][ab]" },
  { name: "replace", input: '{{replace "a" "b" "aaa"}}', output: "bbb" },
  { name: "split", input: '{{(split "," "a,b")._1}} {{splitList "," "a,b"}} {{join "-" (splitList "," "a,b")}}', output: "b [a b] a-b" },
  { name: "contains", input: '{{contains "b" "abc"}} {{hasPrefix "a" "abc"}} {{hasSuffix "a" "abc"}}', output: "true true false" },
  { name: "quote", input: '{{quote "a\\"b"}} {{squote "x"}}', output: "\"a\\\"b\" 'x'" },
  { name: "indent", input: '{{indent 2 "a\\nb"}}{{nindent 1 "c"}}', output: "  a\n  b\n c" },
  { name: "base64", input: '{{b64enc "hi"}} {{b64dec "aGk="}} {{b32enc "hi"}}', output: "aGk= hi NBUQ====" },
  { name: "json", input: '{{toJson (dict "b" 1 "a" (list "<" 2.5))}} {{(fromJson "{\\"k\\":[1]}").k}}', output: '{"a":["\\u003c",2.5],"b":1} [1]' },
  { name: "yaml", input: '{{toYaml (dict "b" (list 1 "on") "a" "x: y")}}', output: "a: 'x: y'\nb:\n- 1\n- \"on\"" },
  { name: "dict ops", input: '{{$d := dict "a" 1}}{{$_ := set $d "b" 2}}{{hasKey $d "b"}} {{get $d "a"}} {{keys $d | sortAlpha}} {{$_ := unset $d "a"}}{{$d}}', output: "true 1 [a b] map[b:2]" },
  { name: "list ops", input: "{{first (list 1 2)}} {{last (list 1 2)}} {{uniq (list 1 1 2)}}", output: "1 2 [1 2]" },
  { name: "sha256sum", input: '{{sha256sum "abc"}}', output: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
  { name: "math", input: '{{add 1 2}} {{sub 1 2}} {{mul 2 3}} {{div 7 2}} {{mod 7 2}} {{max 1 5}} {{min 1 5}} {{until 3}}', output: "3 -1 6 3 1 5 1 [0 1 2]" },
  { name: "conversions", input: '{{atoi "42"}} {{int "7"}} {{toString 1.5}} {{repeat 2 "ab"}} {{nospace "a b"}} {{cat "a" 1}}', output: "42 7 1.5 abab ab a 1" },
  { name: "regex", input: '{{regexMatch "^a.c$" "abc"}} {{regexReplaceAll "(b+)" "abbc" "<$1>"}}', output: "true a<bb>c" },
  { name: "regex named groups (RE2's (?P<name>))", input: '{{regexReplaceAll "(?P<first>b)(?P<rest>a)" "ba" "$rest$first"}} {{regexMatch "^(?P<x>a)$" "a"}}', output: "ab true" },
  { name: "simple case mappings, rune by rune", input: '{{lower "İ"}} {{upper "ᾳ"}} {{title "ǆa"}}', output: "i ᾼ ǅa" },
  { name: "now is a time.Time", input: '{{printf "%T" now}}', output: "time.Time" },
  { name: "fromJson of bad JSON is nil (Sprig's, not Helm's map with an Error key)", input: '{{fromJson "bad"}}', output: "<no value>" },
  { name: "splitn", input: '{{splitn "," 2 "a,b,c"}}', output: "map[_0:a _1:b,c]" },
  { name: "now from clock", input: '{{now | date "2006-01-02 15:04:05 MST"}} {{date "Jan 2" now}}', output: "2024-01-02 03:04:05 UTC Jan 2" },
  { name: "date of unix seconds", input: '{{date "2006-01-02" 86400}}', output: "1970-01-02" },
];

for (const c of cases) test(c.name, () => assert.equal(render(c.input, c.data), c.output));

test("env and expandenv are not provided", () => {
  assert.throws(() => render('{{env "HOME"}}'), { message: 'template: t:1: function "env" not defined' });
  assert.throws(() => render('{{expandenv "$HOME"}}'), { message: 'template: t:1: function "expandenv" not defined' });
});

test("indent and nindent with a negative count fail as strings.Repeat does", () => {
  assert.throws(() => render('{{indent -1 "a"}}'), { message: 'template: t:1:2: executing "t" at <indent -1 "a">: error calling indent: strings: negative Repeat count' });
  assert.throws(() => render('{{nindent -1 "a"}}'), /error calling nindent: strings: negative Repeat count/);
});

test("wrong argument types read as in Go", () => {
  assert.throws(() => render("{{upper 3}}"), { message: 'template: t:1:8: executing "t" at <3>: expected string; found 3' });
  assert.throws(() => render('{{upper "a" "b"}}'), { message: 'template: t:1:2: executing "t" at <upper>: wrong number of args for upper: want 1 got 2' });
});

test("async functions are awaited in template order", async () => {
  const calls: string[] = [];
  const slow = async (name: string, ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    calls.push(name);
    return name.toUpperCase();
  };
  const t2 = new Template("t").funcs({ fetch: (n: string) => slow(n, n === "a" ? 20 : 1) }).parse('{{fetch "a"}}-{{fetch "b"}}');
  assert.equal(await t2.execute({}), "A-B");
  assert.deepEqual(calls, ["a", "b"]);
});

test("a rejected promise is Go's error result", async () => {
  const t = new Template("t").funcs({ secret: async () => Promise.reject(new Error("403 forbidden")) }).parse("x{{secret}}y");
  await assert.rejects(t.execute({}), { message: 'template: t:1:3: executing "t" at <secret>: error calling secret: 403 forbidden' });
});

test("executeSync is the fast path and refuses async functions", () => {
  const sync = new Template("t").funcs({ f: () => "ok" }).parse("{{f}}");
  assert.equal(sync.executeSync({}), "ok");
  const asyncT = new Template("t").funcs({ f: async () => "ok" }).parse("{{f}}");
  assert.throws(() => asyncT.executeSync({}), AsyncFunctionError);
});
