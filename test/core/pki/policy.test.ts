/** The policy engine, as a table: one case per rule kind and target. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkPolicy, evaluatePolicy } from "../../../src/core/pki/policy.js";
import { normalizePolicy } from "../../../src/core/pki/policy-rules.js";
import type { CertificateContents } from "../../../src/core/pki/contents.js";
import { PolicyViolationError } from "../../../src/core/errors.js";

const NB = Date.UTC(2026, 0, 31, 12, 0, 0);
const DAY = 86_400_000;

const base: CertificateContents = {
  subject: { commonName: "api.example.com" },
  sans: [{ type: "dns_name", value: "api.example.com" }],
  keyUsages: ["digital_signature"],
  extendedKeyUsages: ["server_auth"],
  keyAlgorithm: "EC_prime256v1",
  signatureAlgorithm: "ECDSA-SHA256",
  notBefore: NB,
  notAfter: NB + 30 * DAY,
  isCA: false,
};
const basePolicy: Record<string, unknown> = {
  subject: [{ type: "common_name", allowed: ["*.example.com"] }],
  sans: [{ type: "dns_name", allowed: ["*.example.com"] }],
  keyUsages: { allowed: ["digital_signature", "key_encipherment"] },
  extendedKeyUsages: { allowed: ["server_auth", "client_auth"] },
  algorithms: { signature: ["SHA256-ECDSA", "SHA384-ECDSA"], keyAlgorithm: ["ECDSA-P256", "RSA-2048"] },
  validity: { max: "90d" },
};

type V = [field: string, rule: string];
const cases: { name: string; policy?: Record<string, unknown>; contents?: Partial<CertificateContents>; expect: V[] }[] = [
  { name: "baseline passes", expect: [] },
  // subject
  { name: "subject allowed: CN outside the pattern", contents: { subject: { commonName: "a.b.example.com" } }, expect: [["subject.common_name", "allowed"]] },
  { name: "subject allowed: bare domain is not *.domain", contents: { subject: { commonName: "example.com" } }, expect: [["subject.common_name", "allowed"]] },
  { name: "subject required: CN required, none given", policy: { subject: [{ type: "common_name", required: ["*"] }] }, contents: { subject: {} }, expect: [["subject.common_name", "required"]] },
  { name: "subject required: a specific O", policy: { subject: [{ type: "common_name", allowed: ["*"] }, { type: "organization", required: ["Acme"] }] }, contents: { subject: { commonName: "x", organization: "Other" } }, expect: [["subject.organization", "required"]] },
  { name: "subject denied", policy: { subject: [{ type: "common_name", allowed: ["*"], denied: ["*.internal.example.com"] }] }, contents: { subject: { commonName: "db.internal.example.com" } }, expect: [["subject.common_name", "denied"]] },
  { name: "subject: an attribute with no rule is not permitted", contents: { subject: { commonName: "api.example.com", organization: "Acme" } }, expect: [["subject.organization", "not_permitted"]] },
  { name: "subject: glob on O", policy: { subject: [{ type: "common_name", allowed: ["*"] }, { type: "organization", allowed: ["Acme *"] }] }, contents: { subject: { commonName: "x", organization: "Acme Corp" } }, expect: [] },
  { name: "subject: country case-insensitive", policy: { subject: [{ type: "common_name", allowed: ["*"] }, { type: "country", allowed: ["US"] }] }, contents: { subject: { commonName: "x", country: "us" } }, expect: [] },
  { name: "subject: invalid country", policy: { subject: [{ type: "common_name", allowed: ["*"] }, { type: "country", allowed: ["*"] }] }, contents: { subject: { commonName: "x", country: "USA" } }, expect: [["subject.country", "invalid"]] },
  { name: "subject: an over-long OU is invalid", policy: { subject: [{ type: "common_name", allowed: ["*"] }, { type: "organizational_unit", allowed: ["*"] }] }, contents: { subject: { commonName: "x", organizationalUnit: "u".repeat(65) } }, expect: [["subject.organizational_unit", "invalid"]] },
  { name: "subject: rules of one type merge", policy: { subject: [{ type: "common_name", allowed: ["a.example.com"] }, { type: "common_name", allowed: ["b.example.com"] }] }, contents: { subject: { commonName: "b.example.com" } }, expect: [] },
  { name: "subject: only-denied rule permits other values", policy: { subject: [{ type: "common_name", denied: ["evil.example.com"] }] }, contents: { subject: { commonName: "good.example.com" } }, expect: [] },
  // SANs
  { name: "sans allowed: two labels under *.", contents: { sans: [{ type: "dns_name", value: "a.b.example.com" }] }, expect: [["sans.dns_name", "allowed"]] },
  { name: "sans: one bad among good ones", contents: { sans: [{ type: "dns_name", value: "api.example.com" }, { type: "dns_name", value: "api.evil.com" }] }, expect: [["sans.dns_name", "allowed"]] },
  { name: "sans: a SAN type with no rule is not permitted", contents: { sans: [{ type: "dns_name", value: "api.example.com" }, { type: "ip_address", value: "10.0.0.1" }] }, expect: [["sans.ip_address", "not_permitted"]] },
  { name: "sans: an IP address as a dns_name", contents: { sans: [{ type: "dns_name", value: "10.0.0.1" }] }, expect: [["sans.dns_name", "invalid"]] },
  { name: "sans: ip CIDR allowed", policy: { sans: [{ type: "ip_address", allowed: ["10.0.0.0/8", "2001:db8::/32"] }] }, contents: { sans: [{ type: "ip_address", value: "10.9.8.7" }, { type: "ip_address", value: "2001:db8:0::5" }] }, expect: [] },
  { name: "sans: ip outside CIDR", policy: { sans: [{ type: "ip_address", allowed: ["10.0.0.0/8"] }] }, contents: { sans: [{ type: "ip_address", value: "192.168.1.1" }] }, expect: [["sans.ip_address", "allowed"]] },
  { name: "sans: email domain", policy: { sans: [{ type: "email", allowed: ["*@example.com"] }] }, contents: { sans: [{ type: "email", value: "first.last@example.com" }, { type: "email", value: "x@evil.com" }] }, expect: [["sans.email", "allowed"]] },
  { name: "sans: a wildcard email domain is invalid", policy: { sans: [{ type: "email", allowed: ["*"] }] }, contents: { sans: [{ type: "email", value: "a@*.example.com" }] }, expect: [["sans.email", "invalid"]] },
  { name: "sans: uri glob", policy: { sans: [{ type: "uri", allowed: ["spiffe://example.com/*"] }] }, contents: { sans: [{ type: "uri", value: "spiffe://example.com/ns/a/sa/b" }] }, expect: [] },
  { name: "sans: required name missing", policy: { sans: [{ type: "dns_name", allowed: ["*.example.com"], required: ["api.example.com"] }] }, contents: { sans: [{ type: "dns_name", value: "www.example.com" }] }, expect: [["sans.dns_name", "required"]] },
  { name: "sans: required type with nothing given", policy: { sans: [{ type: "dns_name", required: ["*"] }] }, contents: { sans: [] }, expect: [["sans.dns_name", "required"]] },
  { name: "sans: denied", policy: { sans: [{ type: "dns_name", allowed: ["*.example.com"], denied: ["admin.example.com"] }] }, contents: { sans: [{ type: "dns_name", value: "ADMIN.example.com" }] }, expect: [["sans.dns_name", "denied"]] },
  { name: "sans: a wildcard certificate matches the same wildcard", contents: { sans: [{ type: "dns_name", value: "*.example.com" }] }, expect: [] },
  { name: "sans: a wildcard certificate is broader than one name", policy: { sans: [{ type: "dns_name", allowed: ["api.example.com"] }] }, contents: { sans: [{ type: "dns_name", value: "*.example.com" }] }, expect: [["sans.dns_name", "allowed"]] },
  // usages
  { name: "keyUsages allowed", contents: { keyUsages: ["digital_signature", "data_encipherment"] }, expect: [["keyUsages", "allowed"]] },
  { name: "keyUsages required", policy: { keyUsages: { required: ["key_encipherment"] } }, expect: [["keyUsages", "required"]] },
  { name: "keyUsages denied", policy: { keyUsages: { denied: ["non_repudiation"] } }, contents: { keyUsages: ["digital_signature", "non_repudiation"] }, expect: [["keyUsages", "denied"]] },
  { name: "keyUsages without a rule are not permitted", policy: { keyUsages: null }, expect: [["keyUsages", "not_permitted"]] },
  { name: "keyUsages: legacy camelCase in the policy", policy: { keyUsages: { allowed: ["digitalSignature", "keyEncipherment"] } }, expect: [] },
  { name: "keyUsages: * allows every usage", policy: { keyUsages: { allowed: ["*"] } }, contents: { keyUsages: ["digital_signature", "crl_sign"] }, expect: [] },
  { name: "extendedKeyUsages allowed", contents: { extendedKeyUsages: ["server_auth", "code_signing"] }, expect: [["extendedKeyUsages", "allowed"]] },
  { name: "extendedKeyUsages required", policy: { extendedKeyUsages: { allowed: ["server_auth", "client_auth"], required: ["client_auth"] } }, expect: [["extendedKeyUsages", "required"]] },
  { name: "extendedKeyUsages denied", policy: { extendedKeyUsages: { denied: ["ocspSigning"] } }, contents: { extendedKeyUsages: ["ocsp_signing"] }, expect: [["extendedKeyUsages", "denied"]] },
  { name: "extendedKeyUsages without a rule are not permitted", policy: { extendedKeyUsages: null }, expect: [["extendedKeyUsages", "not_permitted"]] },
  { name: "no usages requested and no usage rules: fine", policy: { keyUsages: null, extendedKeyUsages: null }, contents: { keyUsages: [], extendedKeyUsages: [] }, expect: [] },
  // algorithms
  { name: "signature algorithm not allowed", contents: { signatureAlgorithm: "ECDSA-SHA512" }, expect: [["algorithms.signature", "allowed"]] },
  { name: "signature algorithms in request spelling", policy: { algorithms: { signature: ["ECDSA-SHA512"] } }, contents: { signatureAlgorithm: "ECDSA-SHA512" }, expect: [] },
  { name: "key algorithm not allowed", contents: { keyAlgorithm: "EC_secp384r1" }, expect: [["algorithms.keyAlgorithm", "allowed"]] },
  { name: "unsupported key", contents: { keyAlgorithm: undefined, keyDescription: "RSA 1024" }, expect: [["algorithms.keyAlgorithm", "invalid"]] },
  { name: "no algorithm lists: any supported algorithm", policy: { algorithms: null }, contents: { keyAlgorithm: "RSA_4096", signatureAlgorithm: "RSA-SHA512" }, expect: [] },
  // validity
  { name: "validity: exactly the maximum", contents: { notAfter: NB + 90 * DAY }, expect: [] },
  { name: "validity: over the maximum", contents: { notAfter: NB + 91 * DAY }, expect: [["validity", "max"]] },
  { name: "validity: m is months, clamped to the month's end", policy: { validity: { max: "1m" } }, contents: { notAfter: Date.UTC(2026, 1, 28, 12) }, expect: [] },
  { name: "validity: one second over a month", policy: { validity: { max: "1m" } }, contents: { notAfter: Date.UTC(2026, 1, 28, 12, 0, 1) }, expect: [["validity", "max"]] },
  { name: "validity: hours", policy: { validity: { max: "24h" } }, contents: { notAfter: NB + DAY + 1000 }, expect: [["validity", "max"]] },
  { name: "validity: years", policy: { validity: { max: "1y" } }, contents: { notAfter: Date.UTC(2027, 0, 31, 12) }, expect: [] },
  { name: "no validity rule: no maximum", policy: { validity: null }, contents: { notAfter: NB + 3000 * DAY }, expect: [] },
  // CA and unsupported requests
  { name: "CA:true is always denied", contents: { isCA: true }, expect: [["basicConstraints.isCA", "not_permitted"]] },
  { name: "unsupported CSR requests are denied", contents: { unsupported: [{ field: "sans", value: "otherName" }, { field: "subject", value: "emailAddress=a@b.c" }] }, expect: [["sans", "not_permitted"], ["subject", "not_permitted"]] },
];

for (const c of cases) {
  test(c.name, () => {
    const policy = normalizePolicy({ ...basePolicy, ...c.policy });
    const got = evaluatePolicy(policy, { ...base, ...c.contents }).map((v): V => [v.field, v.rule]);
    assert.deepEqual(got.sort(), [...c.expect].sort());
  });
}

test("every violation is listed at once, in details and in the message", () => {
  const policy = normalizePolicy(basePolicy);
  const contents: CertificateContents = {
    ...base,
    subject: { commonName: "evil.com", organization: "Evil" },
    sans: [{ type: "dns_name", value: "10.0.0.1" }, { type: "ip_address", value: "10.0.0.1" }],
    keyUsages: ["digital_signature", "data_encipherment"],
    extendedKeyUsages: ["code_signing"],
    signatureAlgorithm: "ECDSA-SHA512",
    keyAlgorithm: "EC_secp521r1",
    notAfter: NB + 365 * DAY,
    isCA: true,
  };
  assert.throws(() => checkPolicy(policy, contents), (e: unknown) => {
    assert.ok(e instanceof PolicyViolationError);
    assert.equal(e.wireName, "PolicyViolationError");
    const details = e.details as { field: string; rule: string; value?: string; message: string }[];
    assert.deepEqual(details.map((d) => d.field).sort(), [
      "algorithms.keyAlgorithm", "algorithms.signature", "basicConstraints.isCA", "extendedKeyUsages", "keyUsages",
      "sans.dns_name", "sans.ip_address", "subject.common_name", "subject.organization", "validity",
    ]);
    for (const d of details) {
      assert.ok(e.message.includes(d.message), `message mentions ${d.field}`);
      assert.ok(d.message.startsWith(d.field), d.message);
    }
    assert.match(e.message, /violates the certificate policy \(10 rules\)/);
    assert.match(e.message, /sans\.dns_name: "10\.0\.0\.1": an IP address is not a DNS name/);
    assert.match(e.message, /validity: 365 days exceeds the policy maximum 90d/);
    return true;
  });
});

test("messages say exactly what was asked: a lifetime a second over, names given that match no required pattern", () => {
  const policy = normalizePolicy({ ...basePolicy, sans: [{ type: "dns_name", required: ["*.internal.example"], allowed: ["*"] }], validity: { max: "90d" } });
  const nb = new Date("2026-01-01T00:00:00Z");
  const v = evaluatePolicy(policy, { ...base, notBefore: nb, notAfter: new Date(+nb + 90 * 86_400_000 + 1000), sans: [{ type: "dns_name", value: "api.example.com" }] });
  const msg = (field: string) => v.find((x) => x.field === field)?.message ?? "";
  assert.match(msg("validity"), /^validity: 90 days 1 s exceeds the policy maximum 90d/);
  assert.match(msg("sans.dns_name"), /the policy requires "\*\.internal\.example", none of "api\.example\.com" matches/);
});

test("checkPolicy returns quietly when nothing is violated", () => {
  assert.doesNotThrow(() => checkPolicy(normalizePolicy(basePolicy), base));
});
