/** Wildcard semantics, as documented in src/core/pki/policy-match.ts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { matchesPattern } from "../../../src/core/pki/policy-match.js";
import type { MatchKind } from "../../../src/core/pki/policy-match.js";

const cases: [kind: MatchKind, pattern: string, value: string, matches: boolean][] = [
  ["dns", "*.example.com", "a.example.com", true],
  ["dns", "*.example.com", "a.b.example.com", false],
  ["dns", "*.example.com", "example.com", false],
  ["dns", "*.example.com", "A.EXAMPLE.COM", true],
  ["dns", "*.example.com", "*.example.com", true],
  ["dns", "*.*.example.com", "a.b.example.com", true],
  ["dns", "web-*.example.com", "web-1.example.com", true],
  ["dns", "web-*.example.com", "web-.example.com", false],
  ["dns", "web-*.example.com", "api.example.com", false],
  ["dns", "*", "anything.at.all", true],
  ["dns", "api.example.com", "api.example.com.evil.com", false],
  ["dns", "*.example.com", "a.example.com.evil.com", false],
  ["dns", "a.example.com", "aXexample.com", false],
  ["email", "*@example.com", "first.last@example.com", true],
  ["email", "*@example.com", "x@sub.example.com", false],
  ["email", "*@*.example.com", "x@sub.example.com", true],
  ["email", "ops@example.com", "ops@EXAMPLE.com", true],
  ["email", "ops@example.com", "dev@example.com", false],
  ["email", "ops-*@example.com", "ops-team@example.com", true],
  ["ip", "10.0.0.0/8", "10.255.0.1", true],
  ["ip", "10.0.0.0/8", "11.0.0.1", false],
  ["ip", "2001:db8::/32", "2001:db8:ffff::1", true],
  ["ip", "2001:db8::/32", "10.0.0.1", false],
  ["ip", "::1", "0:0:0:0:0:0:0:1", true],
  ["ip", "127.0.0.1", "127.0.0.2", false],
  ["ip", "10.0.0.0/33", "10.0.0.1", false],
  ["glob", "spiffe://example.org/*", "spiffe://example.org/ns/a/sa/b", true],
  ["glob", "spiffe://example.org/*", "spiffe://example.org.evil/x", false],
  ["glob", "Acme (*)", "Acme (EU)", true],
  ["glob", "Acme", "acme", false],
  ["glob-nocase", "US", "us", true],
];
for (const [kind, pattern, value, want] of cases) {
  test(`${kind}: ${JSON.stringify(pattern)} ${want ? "matches" : "does not match"} ${JSON.stringify(value)}`, () => {
    assert.equal(matchesPattern(kind, pattern, value), want);
  });
}
