/** Which names an ACME order asks for (RFC 8555 7.1.4, RFC 8738), from the request's subject and SANs. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { identifiersOf } from "../../../../src/core/pki/external/external-ca-service.js";
import type { SubjectAltName } from "../../../../src/core/pki/san.js";

const cases: [name: string, cn: string | undefined, sans: SubjectAltName[], expect: string[] | RegExp][] = [
  ["CN only", "www.example.com", [], ["dns:www.example.com"]],
  ["CN repeated in SANs once", "www.example.com", [{ type: "dns_name", value: "WWW.example.com" }], ["dns:www.example.com"]],
  ["SANs and a CN outside them", "a.example.com", [{ type: "dns_name", value: "b.example.com" }], ["dns:b.example.com", "dns:a.example.com"]],
  ["IP addresses", undefined, [{ type: "ip_address", value: "192.0.2.1" }], ["ip:192.0.2.1"]],
  ["wildcards keep their *.", undefined, [{ type: "dns_name", value: "*.example.com" }], ["dns:*.example.com"]],
  ["e-mail SANs cannot be validated", "a.example.com", [{ type: "email", value: "a@example.com" }], /cannot validate email names/],
  ["nothing to order", undefined, [], /at least one DNS name/],
];
for (const [name, cn, sans, expect] of cases) {
  test(`identifiers: ${name}`, () => {
    if (expect instanceof RegExp) return assert.throws(() => identifiersOf({ commonName: cn }, sans), expect);
    assert.deepEqual(identifiersOf({ commonName: cn }, sans).map((i) => `${i.type}:${i.value}`), expect);
  });
}
