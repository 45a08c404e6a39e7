import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { formatPath, formatProblems, loadYamlConfig, parseYaml } from "../../src/config/yaml.js";

const Schema = z.strictObject({
  kms: z.strictObject({ address: z.string() }).optional(),
  items: z.array(z.strictObject({ name: z.string(), size: z.number().optional() })).default([]),
  mode: z.union([z.string(), z.number()]).optional(),
});

test("formatPath joins keys with dots and indexes with brackets", () => {
  assert.equal(formatPath(["certificates", 0, "lifecycle", "renew-before-expiry"]), "certificates[0].lifecycle.renew-before-expiry");
  assert.equal(formatPath([]), "");
});

test("unknown keys point at the key itself", () => {
  const r = loadYamlConfig("items:\n  - name: a\n    sise: 3\n", Schema);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.problems, [{ path: "items[0].sise", line: 3, column: 5, message: 'unknown key "sise"' }]);
});

test("a missing key points at its parent's key", () => {
  const r = loadYamlConfig("items:\n  - size: 3\n", Schema);
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.equal(r.problems[0]!.path, "items[0].name");
  assert.equal(r.problems[0]!.message, "is required");
  assert.equal(r.problems[0]!.line, 2);
});

test("wrong types say what was found", () => {
  const r = loadYamlConfig("items:\n  - name: a\n    size: big\n", Schema);
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.deepEqual(r.problems[0], { path: "items[0].size", line: 3, column: 11, message: 'expected number, got string "big"' });
});

test("every problem is reported at once, sorted by position", () => {
  const r = loadYamlConfig("zzz: 1\nitems:\n  - name: 3\n  - nme: x\n", Schema);
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.deepEqual(
    r.problems.map((p) => `${p.line}:${p.path}`),
    ["1:zzz", "3:items[0].name", "4:items[1].name", "4:items[1].nme"],
  );
});

test("infisical: is accepted as the kms: root key, and problems keep the spelling used", () => {
  const ok = loadYamlConfig("infisical:\n  address: http://x\n", Schema, { rootAliases: { infisical: "kms" } });
  assert.ok(ok.ok);
  if (ok.ok) assert.equal(ok.value.kms?.address, "http://x");
  const bad = loadYamlConfig("infisical:\n  adress: http://x\n", Schema, { rootAliases: { infisical: "kms" } });
  assert.ok(!bad.ok);
  if (!bad.ok) {
    assert.deepEqual(bad.problems, [
      { path: "infisical.address", line: 1, column: 1, message: "is required" },
      { path: "infisical.adress", line: 2, column: 3, message: 'unknown key "adress"' },
    ]);
  }
});

test("both kms: and infisical: is a problem", () => {
  const r = loadYamlConfig("kms:\n  address: a\ninfisical:\n  address: b\n", Schema, { rootAliases: { infisical: "kms" } });
  assert.ok(!r.ok);
  if (!r.ok) assert.match(r.problems[0]!.message, /same section/);
});

test("syntax errors carry their position", () => {
  const r = loadYamlConfig("items:\n  - name: a\n   bad: [\n", Schema);
  assert.ok(!r.ok);
  if (!r.ok) assert.ok(r.problems[0]!.line !== undefined);
});

test("duplicate keys are errors", () => {
  const r = loadYamlConfig("kms:\n  address: a\n  address: b\n", Schema);
  assert.ok(!r.ok);
});

test("leading-zero integers stay strings so modes read as octal", () => {
  assert.deepEqual(parseYaml("mode: 0644\n").value, { mode: "0644" });
  assert.deepEqual(parseYaml("mode: 0o644\n").value, { mode: "0o644" });
  assert.deepEqual(parseYaml("mode: 644\n").value, { mode: 644 });
  assert.deepEqual(parseYaml('mode: "0600"\n').value, { mode: "0600" });
});

test("our own checks run even when the schema failed, and are located", () => {
  const r = loadYamlConfig("zzz: 1\nitems:\n  - name: a\n", Schema, {
    check: () => [{ path: ["items", 0, "name"], message: "checked" }],
  });
  assert.ok(!r.ok);
  if (!r.ok) assert.deepEqual(r.problems.map((p) => `${p.line}:${p.column}:${p.message}`), ['1:1:unknown key "zzz"', "3:11:checked"]);
});

test("an empty document is an empty mapping", () => {
  const r = loadYamlConfig("", Schema);
  assert.ok(r.ok);
});

test("formatProblems lists file:line:column, path and message", () => {
  const s = formatProblems([{ path: "a.b", line: 3, column: 5, message: "bad" }], "agent.yaml");
  assert.equal(s, "1 problem in agent.yaml:\n  agent.yaml:3:5: a.b: bad");
});
