/**
 * CSRs made by openssl: parsing of every field a policy judges, signature verification, malformed input,
 * and smuggling attempts (extra SANs, CA:true, extra usages) refused by the policy with every item named.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseAndVerifyCsr, parseCsr } from "../../../src/core/pki/csr.js";
import { contentsFromCsr } from "../../../src/core/pki/contents.js";
import { checkPolicy } from "../../../src/core/pki/policy.js";
import { normalizePolicy } from "../../../src/core/pki/policy-rules.js";
import { issueLeaf } from "../../../src/core/pki/issue.js";
import { fromPem, toPem } from "../../../src/crypto/der/pem.js";
import { BadRequestError, PolicyViolationError } from "../../../src/core/errors.js";
import { DAY, makeChain, openssl, tmp } from "./helpers.js";
import type { Chain } from "./helpers.js";

const t = tmp();
after(() => t.cleanup());
const now = Date.now();
let chain: Chain;
before(async () => {
  chain = await makeChain(now);
});

/** openssl req -new with a fresh key; extra args are -addext etc. */
const makeCsr = async (name: string, subj: string, extra: string[] = [], key: string[] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]): Promise<string> => {
  const out = `${t.dir}/${name}.csr`;
  const r = await openssl(["req", "-new", ...key, "-nodes", "-keyout", `${t.dir}/${name}.key`, "-subj", subj, ...extra, "-out", out]);
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(out, "utf8");
};

const rejectsWith = async (p: Promise<unknown>, re: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BadRequestError, String(e));
    assert.match((e as Error).message, re);
    return true;
  });

const policy = normalizePolicy({
  subject: [{ type: "common_name", allowed: ["*.example.test"] }, { type: "organization", allowed: ["Acme"] }],
  sans: [{ type: "dns_name", allowed: ["*.example.test"] }],
  keyUsages: { allowed: ["digital_signature", "key_encipherment"] },
  extendedKeyUsages: { allowed: ["server_auth"] },
  validity: { max: "90d" },
});
const resolve = { notBefore: now - 1000, notAfter: now + 30 * DAY, signatureAlgorithm: "ECDSA-SHA256" as const, keyUsages: ["digital_signature" as const], extendedKeyUsages: ["server_auth" as const] };

test("parses subject, SANs of every type, requested KU/EKU/basicConstraints and the key", async () => {
  const pem = await makeCsr("full", "/C=US/ST=CA/L=SF/O=Acme/OU=Platform/CN=app.example.test", [
    "-addext", "subjectAltName=DNS:app.example.test,IP:10.0.0.1,IP:2001:db8::1,email:ops@example.test,URI:spiffe://example.test/app",
    "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
    "-addext", "extendedKeyUsage=serverAuth,clientAuth",
    "-addext", "basicConstraints=critical,CA:FALSE",
  ]);
  const csr = await parseAndVerifyCsr(pem);
  assert.deepEqual(csr.subject, { country: "US", state: "CA", locality: "SF", organization: "Acme", organizationalUnit: "Platform", commonName: "app.example.test" });
  assert.deepEqual(csr.sans, [
    { type: "dns_name", value: "app.example.test" }, { type: "ip_address", value: "10.0.0.1" }, { type: "ip_address", value: "2001:db8::1" },
    { type: "email", value: "ops@example.test" }, { type: "uri", value: "spiffe://example.test/app" },
  ]);
  assert.deepEqual(csr.keyUsages, ["digital_signature", "key_encipherment"]);
  assert.deepEqual(csr.extendedKeyUsages, ["server_auth", "client_auth"]);
  assert.deepEqual(csr.basicConstraints, { isCA: false });
  assert.equal(csr.keyAlgorithm, "EC_prime256v1");
  assert.equal(csr.signatureAlgorithm, "ECDSA-SHA256");
  assert.deepEqual(csr.otherSubjectAttributes, []);
});

test("RSA keys and other hashes: RSA_3072 with SHA-384; DER input works too", async () => {
  const pem = await makeCsr("rsa", "/CN=rsa.example.test", ["-sha384"], ["-newkey", "rsa:3072"]);
  const csr = await parseAndVerifyCsr(fromPem(pem, ["CERTIFICATE REQUEST"]).der);
  assert.equal(csr.keyAlgorithm, "RSA_3072");
  assert.equal(csr.keyDescription, "RSA 3072");
  assert.equal(csr.signatureAlgorithm, "RSA-SHA384");
  assert.equal(csr.keyUsages, undefined);
});

test("a CSR flows into a certificate: policy passes, the key and names are the CSR's, openssl verifies", async () => {
  const pem = await makeCsr("ok", "/O=Acme/CN=web.example.test", ["-addext", "subjectAltName=DNS:web.example.test,DNS:www.example.test"]);
  const csr = await parseAndVerifyCsr(pem);
  const contents = contentsFromCsr(csr, resolve);
  checkPolicy(policy, contents);
  const leaf = await issueLeaf(chain.intermediate, contents);
  const leafPath = t.write("ok.pem", leaf.pem);
  const v = await openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", t.write("root.pem", chain.rootPem), "-untrusted", t.write("chain.pem", chain.intermediatePem), leafPath]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const certKey = await openssl(["x509", "-in", leafPath, "-noout", "-pubkey"]);
  const csrKey = await openssl(["req", "-in", `${t.dir}/ok.csr`, "-noout", "-pubkey"]);
  assert.equal(certKey.stdout, csrKey.stdout);
  const text = await openssl(["x509", "-in", leafPath, "-noout", "-text"]);
  assert.match(text.stdout, /Subject: O = Acme, CN = web\.example\.test/);
  assert.match(text.stdout, /DNS:web\.example\.test, DNS:www\.example\.test/);
});

test("smuggling: extra SANs, CA:true, extra key usages and EKUs are all refused and all named", async () => {
  const pem = await makeCsr("smuggle", "/O=Acme/CN=web.example.test", [
    "-addext", "subjectAltName=DNS:web.example.test,DNS:bank.example.com,IP:10.0.0.1,email:ceo@example.test",
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
    "-addext", "keyUsage=critical,digitalSignature,keyCertSign,cRLSign",
    "-addext", "extendedKeyUsage=serverAuth,codeSigning,1.3.6.1.4.1.311.20.2.2",
  ]);
  const contents = contentsFromCsr(await parseAndVerifyCsr(pem), resolve);
  assert.throws(() => checkPolicy(policy, contents), (e: unknown) => {
    assert.ok(e instanceof PolicyViolationError);
    const details = e.details as { field: string; rule: string; value?: string }[];
    const got = details.map((d) => `${d.field}:${d.rule}:${d.value}`).sort();
    assert.deepEqual(got, [
      "basicConstraints.isCA:not_permitted:true",
      "extendedKeyUsages:allowed:code_signing",
      "extendedKeyUsages:not_permitted:1.3.6.1.4.1.311.20.2.2",
      "keyUsages:allowed:crl_sign",
      "keyUsages:allowed:key_cert_sign",
      "sans.dns_name:allowed:bank.example.com",
      "sans.email:not_permitted:ceo@example.test",
      "sans.ip_address:not_permitted:10.0.0.1",
    ]);
    return true;
  });
});

test("smuggling: a subject attribute outside the six and an otherName SAN are refused", async () => {
  const pem = await makeCsr("odd", "/O=Acme/CN=web.example.test/emailAddress=x@example.test", [
    "-addext", "subjectAltName=DNS:web.example.test,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@example.test",
  ]);
  const csr = await parseAndVerifyCsr(pem);
  assert.deepEqual(csr.unsupportedSans, ["otherName"]);
  assert.equal(csr.otherSubjectAttributes[0].shortName, "emailAddress");
  assert.throws(() => checkPolicy(policy, contentsFromCsr(csr, resolve)), /subject: "emailAddress=x@example\.test" is not supported[\s\S]*sans: "otherName" is not supported/);
});

test("an RSA-1024 key parses but no policy accepts it", async () => {
  const csr = await parseAndVerifyCsr(await makeCsr("weak", "/CN=weak.example.test", [], ["-newkey", "rsa:1024"]));
  assert.equal(csr.keyAlgorithm, undefined);
  assert.equal(csr.keyDescription, "RSA 1024");
  assert.throws(() => checkPolicy(policy, contentsFromCsr(csr, resolve)), /algorithms\.keyAlgorithm: RSA 1024 is not a supported key algorithm/);
});

test("wrongly signed: a flipped signature bit, a changed subject", async () => {
  const pem = await makeCsr("sig", "/CN=sig.example.test");
  const der = fromPem(pem, ["CERTIFICATE REQUEST"]).der;
  const badSig = Buffer.from(der);
  badSig[badSig.length - 5] ^= 0x01;
  await rejectsWith(parseAndVerifyCsr(badSig), /signature verification failed/);
  const badSubject = Buffer.from(der);
  const at = badSubject.indexOf(Buffer.from("sig.example.test"));
  badSubject[at] = "x".charCodeAt(0);
  await rejectsWith(parseAndVerifyCsr(toPem("CERTIFICATE REQUEST", badSubject)), /signature verification failed/);
});

test("weak hashes are refused by name", async () => {
  await rejectsWith(parseAndVerifyCsr(await makeCsr("sha1", "/CN=old.example.test", ["-sha1"])), /ecdsa-with-SHA1 signatures are too weak/);
});

const malformed: { name: string; input: string | Buffer; error: RegExp }[] = [
  { name: "not PEM", input: "hello", error: /csr: no PEM block labelled CERTIFICATE REQUEST/ },
  { name: "a certificate instead of a CSR", input: "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", error: /no PEM block labelled CERTIFICATE REQUEST/ },
  { name: "bad base64", input: "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n", error: /invalid base64/ },
  { name: "empty DER", input: Buffer.alloc(0), error: /csr: malformed PKCS#10 request \(CertificationRequest: truncated\)/ },
  { name: "truncated DER", input: Buffer.from([0x30, 0x82, 0x01, 0x00, 0x30]), error: /csr: malformed PKCS#10 request .*runs past the end/ },
  { name: "indefinite length", input: Buffer.from([0x30, 0x80, 0x00, 0x00]), error: /indefinite length is not DER/ },
  { name: "trailing bytes", input: Buffer.from([0x30, 0x00, 0x00]), error: /trailing bytes/ },
];
for (const c of malformed) {
  test(`malformed: ${c.name}`, () => {
    assert.throws(() => parseCsr(c.input), (e: unknown) => e instanceof BadRequestError && c.error.test((e as Error).message));
  });
}

test("malformed: a truncated real CSR", async () => {
  const der = fromPem(await makeCsr("trunc", "/CN=t.example.test"), ["CERTIFICATE REQUEST"]).der;
  assert.throws(() => parseCsr(der.subarray(0, der.length - 10)), (e: unknown) => e instanceof BadRequestError && /malformed PKCS#10/.test((e as Error).message));
});
