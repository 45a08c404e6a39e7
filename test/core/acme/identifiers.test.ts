import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalIdentifier, orderIdentifiers } from "../../../src/core/acme/identifiers.js";
import { AcmeProblem } from "../../../src/core/acme/problem.js";

const cases: { name: string; input: unknown; value?: string; problem?: string; detail?: RegExp }[] = [
  { name: "dns lower-cased", input: { type: "dns", value: "WWW.Example.COM" }, value: "www.example.com" },
  { name: "dns trailing dot dropped", input: { type: "dns", value: "a.example.com." }, value: "a.example.com" },
  { name: "wildcard kept", input: { type: "dns", value: "*.example.com" }, value: "*.example.com" },
  { name: "wildcard not leftmost", input: { type: "dns", value: "a.*.example.com" }, problem: "rejectedIdentifier", detail: /invalid DNS label "\*"/ },
  { name: "partial wildcard label", input: { type: "dns", value: "w*.example.com" }, problem: "rejectedIdentifier" },
  { name: "ip as dns", input: { type: "dns", value: "10.0.0.1" }, problem: "rejectedIdentifier", detail: /not a DNS name/ },
  { name: "non-ascii dns", input: { type: "dns", value: "bücher.example" }, problem: "rejectedIdentifier", detail: /A-label/ },
  { name: "ipv4", input: { type: "ip", value: "127.0.0.1" }, value: "127.0.0.1" },
  { name: "ipv6 canonical (RFC 5952)", input: { type: "ip", value: "2001:DB8:0:0:0:0:0:1" }, value: "2001:db8::1" },
  { name: "bad ip", input: { type: "ip", value: "300.1.1.1" }, problem: "rejectedIdentifier" },
  { name: "unknown type", input: { type: "email", value: "a@example.com" }, problem: "unsupportedIdentifier" },
  { name: "missing value", input: { type: "dns" }, problem: "malformed" },
  { name: "not an object", input: "example.com", problem: "malformed" },
];

for (const c of cases)
  test(c.name, () => {
    if (c.value !== undefined) return assert.equal(canonicalIdentifier(c.input, 0).value, c.value);
    assert.throws(() => canonicalIdentifier(c.input, 0), (e: unknown) => {
      assert.ok(e instanceof AcmeProblem);
      assert.equal(e.type, c.problem);
      if (c.detail) assert.match(e.detail, c.detail);
      return true;
    });
  });

test("order identifiers are de-duplicated in canonical form and sorted", () => {
  assert.deepEqual(orderIdentifiers([{ type: "dns", value: "B.example.com" }, { type: "dns", value: "b.example.com." }, { type: "ip", value: "::1" }]),
    [{ type: "dns", value: "b.example.com" }, { type: "ip", value: "::1" }]);
  assert.throws(() => orderIdentifiers([]), /non-empty array/);
  assert.throws(() => orderIdentifiers(Array.from({ length: 101 }, (_, i) => ({ type: "dns", value: `h${i}.example.com` }))), /At most 100/);
});
