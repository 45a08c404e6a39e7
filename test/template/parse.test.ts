// Go's parse/parse_test.go parseTests and errorTests, run against our parser (tables generated in
// tables/parse-tests.ts), plus TestBlock, TestIsEmpty-style checks and the line numbers of errors.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTextFormatQuoted } from "../../src/template/node.js";
import { IsEmptyTree, Parse, ParseComments, Tree } from "../../src/template/parse.js";
import { errorTests, parseTests } from "./tables/parse-tests.js";

// parse_test.go's builtins for parseTests.
const builtins = { printf: () => "", contains: () => false };

setTextFormatQuoted(true); // textFormat = "%q", as testParse sets it
after(() => setTextFormatQuoted(false));

for (const copy of [false, true]) {
  for (const t of parseTests) {
    test(`${copy ? "copy " : ""}${t.name}`, () => {
      let tree: Tree | undefined;
      let err: unknown;
      try {
        tree = new Tree(t.name).Parse(t.input, "", "", new Map(), builtins);
      } catch (e) {
        err = e;
      }
      if (!t.ok) {
        assert.ok(err, "expected error; got none");
        return;
      }
      assert.equal(err, undefined);
      const root = copy ? tree!.Root!.Copy() : tree!.Root!;
      assert.equal(root.String(), t.result);
    });
  }
}

// Go 1.20's synchronous lexer reports a stray ")" itself; Go 1.19's parser saw the ")" first.
const newerGo: Record<string, string> = { rparen: "unexpected right paren" };

for (const t of errorTests) {
  const want = newerGo[t.name] ?? t.result;
  test(`error: ${t.name}`, () => {
    assert.throws(() => new Tree(t.name).Parse(t.input, "", "", new Map()), (e: Error) => {
      assert.ok(e.message.includes(want), `error ${JSON.stringify(e.message)} does not contain ${JSON.stringify(want)}`);
      return true;
    });
  });
}

test("parse with comments", () => {
  const t = new Tree("comment");
  t.Mode = ParseComments;
  t.Parse("{{/*\n\n\n*/}}", "", "", new Map());
  assert.equal(t.Root!.String(), "{{/*\n\n\n*/}}");
});

test("block", () => {
  const trees = Parse("outer", 'a{{block "inner" .}}bar{{.}}baz{{end}}b', "", "");
  assert.equal(trees.get("outer")!.Root!.String(), '"a"{{template "inner" .}}"b"');
  assert.equal(trees.get("inner")!.Root!.String(), '"bar"{{.}}"baz"');
});

test("is empty tree", () => {
  const cases: [string, boolean][] = [["", true], ["   \n\t ", true], ["{{/* c */}}", true], ["x", false], ["{{.}}", false], ['{{define "x"}}y{{end}}', true]];
  for (const [input, empty] of cases) assert.equal(IsEmptyTree(Parse("t", input, "", "").get("t")!.Root), empty, input);
});

test("error lines", () => {
  assert.throws(() => Parse("n", "a\nb\n{{if}}", "", ""), { message: "template: n:3: missing value for if" });
  assert.throws(() => Parse("n", "{{if\n.X}}\n{{.Y", "", ""), { message: "template: n:3: unclosed action" });
});
