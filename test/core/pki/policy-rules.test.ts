/** Policy validation and normalisation (api.md 7.4 shape, both spellings), and validity.max arithmetic. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { addPolicyDuration, normalizePolicy, parsePolicyDuration } from "../../../src/core/pki/policy-rules.js";
import { BadRequestError } from "../../../src/core/errors.js";

test("both spellings normalise to request spelling", () => {
  const p = normalizePolicy({
    keyUsages: { allowed: ["digitalSignature", "key_encipherment", "cRLSign"], denied: ["nonRepudiation"] },
    extendedKeyUsages: { required: ["serverAuth"], allowed: ["client_auth", "ocspSigning"] },
    algorithms: { signature: ["SHA256-RSA", "ECDSA-SHA384"], keyAlgorithm: ["ECDSA-P521", "RSA_3072"] },
    validity: { max: "90d" },
    subject: [{ type: "common_name", allowed: ["*.example.com"] }],
    sans: [{ type: "dns_name", allowed: ["*.example.com"] }],
  });
  assert.deepEqual(p.keyUsages, { allowed: ["digital_signature", "key_encipherment", "crl_sign"], denied: ["non_repudiation"] });
  assert.deepEqual(p.extendedKeyUsages, { allowed: ["client_auth", "ocsp_signing"], required: ["server_auth"] });
  assert.deepEqual(p.algorithms, { signature: ["RSA-SHA256", "ECDSA-SHA384"], keyAlgorithm: ["EC_secp521r1", "RSA_3072"] });
});

const bad: { name: string; input: unknown; error: RegExp }[] = [
  { name: "not an object", input: [], error: /^policy: must be an object/ },
  { name: "unknown key usage", input: { keyUsages: { allowed: ["sign_everything"] } }, error: /keyUsages\.allowed: unknown value "sign_everything"/ },
  { name: "unknown EKU", input: { extendedKeyUsages: { allowed: ["smartcard"] } }, error: /extendedKeyUsages\.allowed: unknown value "smartcard"/ },
  { name: "rule without lists", input: { keyUsages: {} }, error: /keyUsages: needs at least one of allowed, required, denied/ },
  { name: "subject rule without lists", input: { subject: [{ type: "common_name" }] }, error: /subject\[0\]: needs at least one of/ },
  { name: "unknown subject type", input: { subject: [{ type: "email_address", allowed: ["*"] }] }, error: /subject\[0\]\.type: must be one of common_name/ },
  { name: "unknown SAN type", input: { sans: [{ type: "other_name", allowed: ["*"] }] }, error: /sans\[0\]\.type: must be one of dns_name/ },
  { name: "empty string in a list", input: { sans: [{ type: "dns_name", allowed: [""] }] }, error: /sans\[0\]\.allowed: must be a list of non-empty strings/ },
  { name: "unknown signature algorithm", input: { algorithms: { signature: ["SHA1-RSA"] } }, error: /algorithms\.signature\[0\]: unknown signature algorithm "SHA1-RSA"/ },
  { name: "unknown key algorithm", input: { algorithms: { keyAlgorithm: ["ECDSA-P224"] } }, error: /algorithms\.keyAlgorithm\[0\]: unknown key algorithm "ECDSA-P224"/ },
  { name: "empty algorithm list", input: { algorithms: { signature: [] } }, error: /algorithms\.signature: needs at least one/ },
  { name: "validity with words", input: { validity: { max: "90 days" } }, error: /validity\.max: "90 days" is not <digits><d\|h\|m\|y>/ },
  { name: "validity in weeks", input: { validity: { max: "2w" } }, error: /validity\.max: "2w" is not/ },
  { name: "validity zero", input: { validity: { max: "0d" } }, error: /validity\.max: must be greater than zero/ },
  { name: "validity as a number", input: { validity: { max: 90 } }, error: /validity\.max: must be a string/ },
  { name: "IP range past 32 bits", input: { sans: [{ type: "ip_address", allowed: ["10.0.0.0/33"] }] }, error: /sans\[0\]\.allowed\[0\]: "10\.0\.0\.0\/33": the prefix length must be 0 to 32/ },
  { name: "IP with a wildcard", input: { sans: [{ type: "ip_address", denied: ["10.0.0.1", "*.1"] }] }, error: /sans\[0\]\.denied\[1\]: "\*\.1" is not an IP address or CIDR range/ },
  { name: "IP that is a name", input: { sans: [{ type: "ip_address", required: ["localhost"] }] }, error: /sans\[0\]\.required\[0\]: "localhost" is not an IP address/ },
];

test("IP rules take addresses, CIDR ranges of either family, and a lone *", () => {
  const p = normalizePolicy({ sans: [{ type: "ip_address", allowed: ["*", "127.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32", "0.0.0.0/0"] }] });
  assert.equal(p.sans![0]!.allowed!.length, 6);
  // A policy stored before IP values were checked is still read (its bad values just never match).
  assert.equal(normalizePolicy({ sans: [{ type: "ip_address", allowed: ["10.0.0.0/33", "10.0.0.0/8"] }] }).sans![0]!.allowed!.length, 2);
});
for (const c of bad) {
  test(`refused: ${c.name}`, () => {
    assert.throws(() => normalizePolicy(c.input, { written: true }), (e: unknown) => e instanceof BadRequestError && c.error.test((e as Error).message));
  });
}

const durations: { name: string; from: number; max: string; to: number }[] = [
  { name: "days are 24 h", from: Date.UTC(2026, 2, 1), max: "90d", to: Date.UTC(2026, 4, 30) },
  { name: "hours", from: Date.UTC(2026, 0, 1), max: "36h", to: Date.UTC(2026, 0, 2, 12) },
  { name: "months step the calendar", from: Date.UTC(2026, 0, 15, 8, 30), max: "3m", to: Date.UTC(2026, 3, 15, 8, 30) },
  { name: "Jan 31 + 1m clamps to Feb 28", from: Date.UTC(2026, 0, 31), max: "1m", to: Date.UTC(2026, 1, 28) },
  { name: "leap year: Jan 31 + 1m = Feb 29", from: Date.UTC(2028, 0, 31), max: "1m", to: Date.UTC(2028, 1, 29) },
  { name: "years: Feb 29 + 1y = Feb 28", from: Date.UTC(2028, 1, 29), max: "1y", to: Date.UTC(2029, 1, 28) },
  { name: "months across a year", from: Date.UTC(2026, 10, 30), max: "15m", to: Date.UTC(2028, 1, 29) },
];
for (const c of durations) {
  test(`validity.max: ${c.name}`, () => assert.equal(new Date(addPolicyDuration(c.from, parsePolicyDuration(c.max))).toISOString(), new Date(c.to).toISOString()));
}
