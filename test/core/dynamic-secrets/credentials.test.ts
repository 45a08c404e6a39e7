import { test } from "node:test";
import assert from "node:assert/strict";
import { generatePassword, generateUsername, PasswordRequirementsSchema, usernameTemplateProblem } from "../../../src/core/dynamic-secrets/credentials.js";
import { renderStatements, templateProblem } from "../../../src/core/dynamic-secrets/statements.js";

const countOf = (s: string, re: RegExp) => (s.match(re) ?? []).length;

test("password requirements: Infisical's spelling and the SDK's min* spelling mean the same", () => {
  const infisical = PasswordRequirementsSchema.parse({ length: 20, required: { lowercase: 2, uppercase: 3, digits: 4, symbols: 1 }, allowedSymbols: "!" });
  const sdk = PasswordRequirementsSchema.parse({ length: 20, required: { minLowercase: 2, minUppercase: 3, minDigits: 4, minSymbols: 1 }, allowedSymbols: "!" });
  assert.deepEqual(sdk, infisical);
  assert.deepEqual(PasswordRequirementsSchema.parse({ length: 8, required: { minDigits: 8 } }).required, { lowercase: 0, uppercase: 0, digits: 8, symbols: 0 }, "missing counts are 0");
});

const bad: { name: string; input: unknown; message: RegExp }[] = [
  { name: "required exceeds length", input: { length: 3, required: { digits: 2, lowercase: 2 } }, message: /exceed the length/ },
  { name: "quote in allowed symbols", input: { length: 8, required: {}, allowedSymbols: "!'" }, message: /quotes, backslashes/ },
  { name: "length above 250", input: { length: 251 }, message: /250/ },
];
for (const c of bad)
  test(`password requirements refused: ${c.name}`, () => {
    const r = PasswordRequirementsSchema.safeParse(c.input);
    assert.equal(r.success, false);
    assert.match(r.error!.issues.map((i) => i.message).join("; "), c.message);
  });

test("generated passwords honour every count and only use the allowed characters", () => {
  for (let i = 0; i < 50; i++) {
    const p = generatePassword({ length: 24, required: { lowercase: 3, uppercase: 4, digits: 5, symbols: 6 }, allowedSymbols: "#%" });
    assert.equal(p.length, 24);
    assert.ok(countOf(p, /[a-z]/g) >= 3 && countOf(p, /[A-Z]/g) >= 4 && countOf(p, /\d/g) >= 5 && countOf(p, /[#%]/g) >= 6, p);
    assert.match(p, /^[a-zA-Z0-9#%]+$/);
  }
  assert.match(generatePassword(), /^[A-Za-z0-9]{48}$/, "the default: 48 letters and digits");
  assert.match(generatePassword({ length: 10, required: { lowercase: 0, uppercase: 0, digits: 0, symbols: 0 } }), /^[A-Za-z0-9]{10}$/, "no class asked for: letters and digits");
});

const ctx = { unixTimestamp: 1_700_000_000, identity: { id: "id-1", name: "ci-bot" }, dynamicSecret: { name: "pg", type: "sql-database" } };
const usernames: { name: string; template: string | null; expect?: RegExp; problem?: RegExp }[] = [
  { name: "no template: 32 random alphanumerics", template: null, expect: /^[A-Za-z0-9]{32}$/ },
  { name: "prefix and random", template: "app_{{randomUsername}}", expect: /^app_[A-Za-z0-9]{32}$/ },
  { name: "identity and secret names", template: "{{identity.name}}-{{dynamicSecret.name}}-{{unixTimestamp}}", expect: /^ci-bot-pg-1700000000$/ },
  { name: "helpers", template: "{{uppercase dynamicSecret.name}}_{{random 6}}_{{truncate randomUsername 4}}", expect: /^PG_[A-Za-z0-9]{6}_[A-Za-z0-9]{4}$/ },
  { name: "unknown variable", template: "{{nope}}", problem: /unknown placeholder '\{\{nope\}\}'/ },
  { name: "unknown helper", template: "{{shout randomUsername}}", problem: /unsupported expression/ },
  { name: "unsafe characters", template: "a b{{randomUsername}}", problem: /may only contain letters, digits/ },
];
for (const c of usernames)
  test(`username: ${c.name}`, () => {
    if (c.problem) assert.match(usernameTemplateProblem(c.template!) ?? "", c.problem);
    else assert.match(generateUsername(c.template, ctx), c.expect!);
  });

test("statements split on ';' before substitution, so a password with ';' stays whole", () => {
  const out = renderStatements(`CREATE USER "{{username}}" PASSWORD '{{password}}';\n GRANT x TO "{{ username }}";;`, { username: "u1", password: "a;b" }, ["username", "password"]);
  assert.deepEqual(out, [`CREATE USER "u1" PASSWORD 'a;b'`, `GRANT x TO "u1"`]);
  assert.deepEqual(renderStatements("{{{username}}}", { username: "<x>" }, ["username"]), ["<x>"], "triple braces, never HTML-escaped");
  assert.match(templateProblem("DROP {{password}}", ["username"]) ?? "", /unknown placeholder '\{\{password\}\}' \(allowed: \{\{username\}\}\)/);
});
