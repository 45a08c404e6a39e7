/** Leaf issuance details: extensions as openssl reads them, serials, refusals, self-signed certificates. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { x509 } from "../../../src/crypto/x509.js";
import { children, readRoot, readTlv } from "../../../src/crypto/der/reader.js";
import { issueLeaf, issueSelfSigned } from "../../../src/core/pki/issue.js";
import type { LeafIssueRequest } from "../../../src/core/pki/issue.js";
import { parseCertificate } from "../../../src/core/pki/certificate.js";
import { BadRequestError } from "../../../src/core/errors.js";
import type { GeneratedKeyPair } from "../../../src/crypto/keys.js";
import { DAY, URLS, makeChain, openssl, poolKey, tmp } from "./helpers.js";
import type { Chain } from "./helpers.js";

const t = tmp();
after(() => t.cleanup());
const now = Date.now();
let chain: Chain;
let key: GeneratedKeyPair;
let rootPath: string;
let chainPath: string;
before(async () => {
  chain = await makeChain(now);
  key = await poolKey("EC_prime256v1", 1);
  rootPath = t.write("root.pem", chain.rootPem);
  chainPath = t.write("chain.pem", chain.intermediatePem);
});

const base = (): LeafIssueRequest => ({
  subject: { commonName: "api.example.test", organization: "Acme", organizationalUnit: "Platform", country: "US", state: "CA", locality: "San Francisco" },
  sans: [
    { type: "dns_name", value: "api.example.test" },
    { type: "dns_name", value: "*.api.example.test" },
    { type: "ip_address", value: "10.1.2.3" },
    { type: "ip_address", value: "2001:db8::1" },
    { type: "email", value: "ops@example.test" },
    { type: "uri", value: "spiffe://example.test/ns/prod/sa/api" },
  ],
  keyUsages: ["digital_signature", "key_encipherment"],
  extendedKeyUsages: ["server_auth", "client_auth"],
  notBefore: now - 1000,
  notAfter: now + 30 * DAY,
  publicKey: key.spkiDer,
});

const verify = async (pem: string, extra: string[] = []) => {
  const p = t.write(`leaf-${Math.random().toString(36).slice(2)}.pem`, pem);
  return openssl(["verify", "-x509_strict", ...extra, "-CAfile", rootPath, "-untrusted", chainPath, p]);
};
const text = async (pem: string) => (await openssl(["x509", "-noout", "-text", "-in", t.write(`x-${Math.random().toString(36).slice(2)}.pem`, pem)])).stdout;

test("a leaf carries every extension, as openssl reads it", async () => {
  const leaf = await issueLeaf(chain.intermediate, base());
  const v = await verify(leaf.pem, ["-purpose", "sslserver"]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const out = await text(leaf.pem);
  assert.match(out, /Subject: C = US, ST = CA, L = San Francisco, O = Acme, OU = Platform, CN = api\.example\.test/);
  assert.match(out, /Issuer: C = US, O = Acme, CN = Test Issuing CA/);
  assert.match(out, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
  assert.match(out, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment/);
  assert.match(out, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(out, /X509v3 Subject Alternative Name: \n\s+DNS:api\.example\.test, DNS:\*\.api\.example\.test, IP Address:10\.1\.2\.3, IP Address:2001:DB8:0:0:0:0:0:1, email:ops@example\.test, URI:spiffe:\/\/example\.test\/ns\/prod\/sa\/api\n/);
  assert.doesNotMatch(out, /Subject Alternative Name: critical/);
  assert.match(out, new RegExp(`X509v3 CRL Distribution Points: \\n\\s+Full Name:\\n\\s+URI:${URLS.crlDistributionPoints![0].replace(/[./]/g, "\\$&")}`));
  assert.match(out, new RegExp(`OCSP - URI:${URLS.ocsp![0].replace(/[./]/g, "\\$&")}`));
  assert.match(out, new RegExp(`CA Issuers - URI:${URLS.caIssuers![0].replace(/[./]/g, "\\$&")}`));

  const hex = (b: Buffer) => b.toString("hex").toUpperCase().match(/../g)!.join(":");
  const bits = key.spkiDer.subarray(key.spkiDer.length - 65); // P-256 uncompressed point: the BIT STRING's value
  assert.match(out, new RegExp(`X509v3 Subject Key Identifier: \\n\\s+${hex(createHash("sha1").update(bits).digest())}`));
  assert.match(out, new RegExp(`X509v3 Authority Key Identifier: \\n\\s+${hex(chain.intermediate.keyId)}`));
  assert.deepEqual(parseCertificate(leaf.der).authorityKeyId, chain.intermediate.keyId);

  // The result's metadata matches the certificate.
  const x = new x509.X509Certificate(leaf.der);
  assert.equal(x.serialNumber.toLowerCase(), leaf.serialNumber);
  assert.equal(leaf.fingerprintSha256, createHash("sha256").update(leaf.der).digest("hex"));
  assert.equal(x.notAfter.getTime(), Math.floor((now + 30 * DAY) / 1000) * 1000);
  assert.equal(leaf.notAfter.getTime(), x.notAfter.getTime());
  assert.match(leaf.pem, /^-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n$/);
});

test("serials are 20 octets, positive, never zero-led, and unique", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const leaf = await issueLeaf(chain.intermediate, base());
    const tbs = children(leaf.der, readRoot(leaf.der))[0];
    const fields = children(leaf.der, tbs);
    const serial = readTlv(leaf.der, fields[1].start);
    assert.equal(serial.end - serial.contentStart, 20);
    const first = leaf.der[serial.contentStart];
    assert.ok(first > 0 && first < 0x80, `first octet ${first}`);
    assert.match(leaf.serialNumber, /^[0-7][0-9a-f]{39}$/);
    seen.add(leaf.serialNumber);
  }
  assert.equal(seen.size, 300);
  const out = await text((await issueLeaf(chain.intermediate, base())).pem);
  assert.match(out, /Serial Number:\n\s+(?:[0-9a-f]{2}:){19}[0-9a-f]{2}\n/);
});

test("an empty subject makes the SAN extension critical, and strict verification passes", async () => {
  const leaf = await issueLeaf(chain.intermediate, { ...base(), subject: {}, sans: [{ type: "dns_name", value: "only-san.example.test" }] });
  const out = await text(leaf.pem);
  assert.match(out, /Subject: \n|Subject:\s*\n/);
  assert.match(out, /X509v3 Subject Alternative Name: critical\n\s+DNS:only-san\.example\.test/);
  const v = await verify(leaf.pem, ["-purpose", "sslserver"]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test("no KeyUsage/EKU requested: the extensions are absent", async () => {
  const leaf = await issueLeaf(chain.intermediate, { ...base(), keyUsages: [], extendedKeyUsages: [] });
  const out = await text(leaf.pem);
  assert.doesNotMatch(out, /Key Usage/);
  assert.equal((await verify(leaf.pem)).code, 0);
});

test("a public key given as a KeyObject works like SPKI DER", async () => {
  const leaf = await issueLeaf(chain.intermediate, { ...base(), publicKey: key.publicKey });
  assert.deepEqual(parseCertificate(leaf.der).spkiDer, key.spkiDer);
});

const refusals: { name: string; patch: (r: LeafIssueRequest) => LeafIssueRequest; error: RegExp }[] = [
  { name: "notAfter past the CA's notAfter is refused, not clamped", patch: (r) => ({ ...r, notAfter: now + 4000 * DAY }), error: /notAfter: .* is after the issuing CA's notAfter/ },
  { name: "notAfter before notBefore", patch: (r) => ({ ...r, notAfter: now - 5000 }), error: /notAfter: .* is not after notBefore/ },
  { name: "an RSA signature from an EC issuer names both", patch: (r) => ({ ...r, signatureAlgorithm: "RSA-SHA256" }), error: /RSA-SHA256 needs an RSA issuer key, but the issuer key is EC_prime256v1 \(compatible: ECDSA-SHA256, ECDSA-SHA384, ECDSA-SHA512\)/ },
  { name: "CA:true", patch: (r) => ({ ...r, isCA: true }), error: /basicConstraints\.isCA/ },
  { name: "keyCertSign on a leaf", patch: (r) => ({ ...r, keyUsages: ["digital_signature", "key_cert_sign"] }), error: /key_cert_sign is only valid in a CA/ },
  { name: "neither subject nor SANs", patch: (r) => ({ ...r, subject: {}, sans: [] }), error: /needs a subject or at least one SAN/ },
  { name: "an IP address as a DNS name", patch: (r) => ({ ...r, sans: [{ type: "dns_name", value: "10.0.0.1" }] }), error: /an IP address is not a DNS name/ },
  { name: "a non-ASCII DNS name", patch: (r) => ({ ...r, sans: [{ type: "dns_name", value: "bücher.example" }] }), error: /punycode/ },
  { name: "a three-letter country", patch: (r) => ({ ...r, subject: { commonName: "x", country: "USA" } }), error: /subject\.country: must be a two-letter/ },
  { name: "a 65-character common name", patch: (r) => ({ ...r, subject: { commonName: "a".repeat(65) } }), error: /subject\.commonName: longer than 64/ },
  {
    name: "an RSA-1024 subject key",
    patch: (r) => ({ ...r, publicKey: generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "der" }) }),
    error: /publicKey: unsupported key RSA 1024/,
  },
  { name: "a malformed SPKI", patch: (r) => ({ ...r, publicKey: Buffer.from([0x30, 0x03, 0x02, 0x01]) }), error: /publicKey: malformed SubjectPublicKeyInfo/ },
];
for (const c of refusals) {
  test(`refused: ${c.name}`, async () => {
    await assert.rejects(issueLeaf(chain.intermediate, c.patch(base())), (e: unknown) => {
      assert.ok(e instanceof BadRequestError, String(e));
      assert.match((e as Error).message, c.error);
      return true;
    });
  });
}

test("self-signed: issuer = subject, AKI = SKI, CA:false, no CRL/AIA; openssl accepts it as its own anchor", async () => {
  const { certificate, keyPair } = await issueSelfSigned({
    subject: { commonName: "self.example.test" }, sans: [{ type: "dns_name", value: "self.example.test" }],
    keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"],
    notBefore: now - 1000, notAfter: now + 10 * DAY, keyAlgorithm: "EC_secp384r1",
  });
  assert.equal(keyPair.algorithm, "EC_secp384r1");
  const p = t.write("self.pem", certificate.pem);
  const v = await openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", p, p]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const parsed = parseCertificate(certificate.der);
  assert.deepEqual(parsed.issuerDer, parsed.subjectDer);
  assert.deepEqual(parsed.authorityKeyId, parsed.subjectKeyId);
  assert.equal(parsed.basicConstraints?.isCA, false);
  const out = await text(certificate.pem);
  assert.match(out, /Signature Algorithm: ecdsa-with-SHA384/);
  assert.doesNotMatch(out, /CRL Distribution|Authority Information Access/);
});

test("self-signed with RSA keys and every RSA hash", async () => {
  const rsa = await poolKey("RSA_2048", 1);
  for (const sig of ["RSA-SHA256", "RSA-SHA384", "RSA-SHA512"] as const) {
    const { certificate } = await issueSelfSigned({
      subject: { commonName: "rsa-self.example.test" }, sans: [], keyUsages: ["digital_signature", "key_encipherment"],
      notBefore: now - 1000, notAfter: now + DAY, keyAlgorithm: "RSA_2048", keyPair: rsa, signatureAlgorithm: sig,
    });
    const p = t.write(`self-${sig}.pem`, certificate.pem);
    const v = await openssl(["verify", "-x509_strict", "-CAfile", p, p]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  }
});

test("self-signed refusals: ECDSA signature for an RSA key, empty subject, mismatched key pair", async () => {
  const rsa = await poolKey("RSA_2048", 1);
  const req = { subject: { commonName: "x" }, notBefore: now, notAfter: now + DAY, keyAlgorithm: "RSA_2048" as const, keyPair: rsa };
  await assert.rejects(issueSelfSigned({ ...req, signatureAlgorithm: "ECDSA-SHA256" }), /ECDSA-SHA256 needs an EC issuer key, but the issuer key is RSA_2048/);
  await assert.rejects(issueSelfSigned({ ...req, subject: {} }), /self-signed certificate needs a subject/);
  await assert.rejects(issueSelfSigned({ ...req, keyAlgorithm: "RSA_3072" }), /the supplied key pair is RSA_2048, not RSA_3072/);
});
