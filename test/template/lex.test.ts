// Go's parse/lex_test.go lexTests, run against our lexer (table generated in tables/lex-tests.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as L from "../../src/template/lex.js";
import { lexTests } from "./tables/lex-tests.js";

// Make the types prettyprint, as lex_test.go's itemName does.
const itemName = new Map<number, string>([
  [L.itemError, "error"], [L.itemBool, "bool"], [L.itemChar, "char"], [L.itemCharConstant, "charconst"],
  [L.itemComment, "comment"], [L.itemComplex, "complex"], [L.itemDeclare, ":="], [L.itemEOF, "EOF"],
  [L.itemField, "field"], [L.itemIdentifier, "identifier"], [L.itemLeftDelim, "left delim"], [L.itemLeftParen, "("],
  [L.itemNumber, "number"], [L.itemPipe, "pipe"], [L.itemRawString, "raw string"], [L.itemRightDelim, "right delim"],
  [L.itemRightParen, ")"], [L.itemSpace, "space"], [L.itemString, "string"], [L.itemVariable, "variable"],
  [L.itemDot, "."], [L.itemBlock, "block"], [L.itemBreak, "break"], [L.itemContinue, "continue"], [L.itemDefine, "define"],
  [L.itemElse, "else"], [L.itemIf, "if"], [L.itemEnd, "end"], [L.itemNil, "nil"], [L.itemRange, "range"],
  [L.itemTemplate, "template"], [L.itemWith, "with"],
]);
const typName = (t: number): string => itemName.get(t) ?? `item${t}`;

const collect = (input: string, left: string, right: string): { typ: string; val: string }[] => {
  const l = L.lex("test", input, left, right);
  l.options = { emitComment: true, breakOK: true, continueOK: true };
  const items: { typ: string; val: string }[] = [];
  for (;;) {
    const item = l.nextItem();
    items.push({ typ: typName(item.typ), val: item.typ === L.itemEOF ? "" : item.val });
    if (item.typ === L.itemEOF || item.typ === L.itemError) break;
  }
  return items;
};

// Go 1.19's lexer emitted ")" before reporting a stray right paren; since Go 1.20 it reports the
// error first, without the rune. We follow the newer lexer.
const newerGo = (name: string, items: { typ: string; val: string }[]): { typ: string; val: string }[] => {
  if (name !== "extra right paren") return items;
  return [...items.slice(0, -2), { typ: "error", val: "unexpected right paren" }];
};

for (const t of lexTests) {
  test(t.name, () => {
    assert.deepEqual(collect(t.input, "", ""), newerGo(t.name, t.items));
  });
}

// lex_test.go TestDelims and TestPos, condensed.
test("delims", () => {
  const items = collect("$$.Field@@ $$'x'@@", "$$", "@@");
  assert.deepEqual(items.map((i) => i.typ), ["left delim", "field", "right delim", "item20", "left delim", "charconst", "right delim", "EOF"]);
});

test("pos", () => {
  const l = L.lex("test", "0123{{hello}}xyz", "", "");
  const got = [l.nextItem(), l.nextItem(), l.nextItem(), l.nextItem(), l.nextItem(), l.nextItem()].map((i) => [i.typ, i.pos, i.val]);
  assert.deepEqual(got, [
    [L.itemText, 0, "0123"], [L.itemLeftDelim, 4, "{{"], [L.itemIdentifier, 6, "hello"],
    [L.itemRightDelim, 11, "}}"], [L.itemText, 13, "xyz"], [L.itemEOF, 16, ""],
  ]);
});
