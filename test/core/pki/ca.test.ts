/** Root and intermediate CAs: extensions, path lengths, CSR round trip, refusals, dates past 2049. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createCaCsr, createIntermediateCa, createRootCa, signIntermediate } from "../../../src/core/pki/ca.js";
import { prepareIssuer } from "../../../src/core/pki/issuer.js";
import { issueLeaf } from "../../../src/core/pki/issue.js";
import { parseCertificate } from "../../../src/core/pki/certificate.js";
import { exportPrivateKeyPem } from "../../../src/crypto/keys.js";
import { BadRequestError } from "../../../src/core/errors.js";
import { DAY, openssl, poolKey, tmp } from "./helpers.js";

const t = tmp();
after(() => t.cleanup());
const now = Date.now();
const text = async (pem: string) => (await openssl(["x509", "-noout", "-text", "-in", t.write(`x-${Math.random().toString(36).slice(2)}.pem`, pem)])).stdout;

const root = async (maxPathLength: number | null, slot = 20, notAfter = now + 3650 * DAY) => {
  const r = await createRootCa({
    subject: { commonName: "Demo Root CA", organization: "Acme", country: "US" }, keyAlgorithm: "EC_prime256v1",
    keyPair: await poolKey("EC_prime256v1", slot), notBefore: now - 60_000, notAfter, maxPathLength,
  });
  return { ...r, ctx: prepareIssuer({ certificate: r.certificate.pem, privateKey: r.keyPair.privateKey }) };
};

test("root CA: CA:TRUE critical without pathlen when unlimited, KU critical, SKI = AKI, self-verifies", async () => {
  const r = await root(-1);
  const out = await text(r.certificate.pem);
  assert.match(out, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
  assert.match(out, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign/);
  const p = parseCertificate(r.certificate.der);
  assert.deepEqual(p.authorityKeyId, p.subjectKeyId);
  assert.equal(p.basicConstraints?.pathLength, undefined);
  assert.match(out, /Subject: C = US, O = Acme, CN = Demo Root CA/);
  const path = t.write("root-unlimited.pem", r.certificate.pem);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", path, path]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.equal(r.ctx.pathLength, undefined);
});

test("root CA with pathLen 2; an intermediate asking for unlimited gets 1, asking for 5 is refused", async () => {
  const r = await root(2, 21);
  assert.match(await text(r.certificate.pem), /CA:TRUE, pathlen:2/);
  const k = await poolKey("EC_prime256v1", 22);
  const inter = await createIntermediateCa(r.ctx, { subject: { commonName: "Sub" }, keyAlgorithm: "EC_prime256v1", keyPair: k, notBefore: now, notAfter: now + 100 * DAY, maxPathLength: -1 });
  assert.equal(parseCertificate(inter.certificate.der).basicConstraints?.pathLength, 1);
  await assert.rejects(
    createIntermediateCa(r.ctx, { subject: { commonName: "Sub" }, keyAlgorithm: "EC_prime256v1", keyPair: k, notBefore: now, notAfter: now + 100 * DAY, maxPathLength: 5 }),
    /maxPathLength: 5 exceeds what the parent CA allows \(1\)/,
  );
});

test("a pathLen-0 CA cannot sign another CA", async () => {
  const r = await root(0, 23);
  await assert.rejects(
    createIntermediateCa(r.ctx, { subject: { commonName: "Sub" }, keyAlgorithm: "EC_prime256v1", keyPair: await poolKey("EC_prime256v1", 24), notBefore: now, notAfter: now + DAY }),
    /pathLenConstraint is 0, so it cannot sign another CA/,
  );
});

test("three levels: root → policy CA → issuing CA → leaf verifies strictly", async () => {
  const r = await root(-1, 25);
  const a = await createIntermediateCa(r.ctx, { subject: { commonName: "Policy CA", organization: "Acme" }, keyAlgorithm: "RSA_2048", keyPair: await poolKey("RSA_2048", 26), notBefore: now - 1000, notAfter: now + 900 * DAY, maxPathLength: 1 });
  const actx = prepareIssuer({ certificate: a.certificate.der, privateKey: exportPrivateKeyPem(a.keyPair.privateKey) });
  const b = await createIntermediateCa(actx, { subject: { commonName: "Issuing CA", organization: "Acme" }, keyAlgorithm: "EC_secp384r1", keyPair: await poolKey("EC_secp384r1", 27), notBefore: now - 1000, notAfter: now + 800 * DAY });
  assert.equal(parseCertificate(b.certificate.der).basicConstraints?.pathLength, 0);
  const bctx = prepareIssuer({ certificate: b.certificate.pem, privateKey: b.keyPair.privateKey });
  const leafKey = await poolKey("EC_prime256v1", 28);
  const leaf = await issueLeaf(bctx, { subject: { commonName: "deep.example.test" }, sans: [{ type: "dns_name", value: "deep.example.test" }], keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"], notBefore: now - 1000, notAfter: now + 10 * DAY, publicKey: leafKey.spkiDer });
  const v = await openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", t.write("r3.pem", r.certificate.pem), "-untrusted", t.write("chain3.pem", b.certificate.pem + a.certificate.pem), t.write("leaf3.pem", leaf.pem)]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test("intermediate CSR (GET /:caId/csr) passes openssl req -verify and signs through sign-intermediate", async () => {
  const r = await root(-1, 29);
  const k = await poolKey("RSA_2048", 30);
  const csr = await createCaCsr({ subject: { commonName: "Pending CA", organization: "Acme", country: "DE" }, privateKey: k.privateKey, spkiDer: k.spkiDer, keyAlgorithm: k.algorithm });
  assert.match(csr.pem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  const rv = await openssl(["req", "-verify", "-noout", "-in", t.write("ca.csr", csr.pem)]);
  assert.match(rv.stdout + rv.stderr, /verify OK|Certificate request self-signature verify OK/);
  const signed = await signIntermediate(r.ctx, { csr: csr.pem, notBefore: now - 1000, notAfter: now + 365 * DAY, maxPathLength: 0 });
  assert.equal(signed.keyAlgorithm, "RSA_2048");
  assert.deepEqual(signed.subject, { commonName: "Pending CA", organization: "Acme", country: "DE" });
  const ctx = prepareIssuer({ certificate: signed.pem, privateKey: k.privateKey });
  assert.equal(ctx.keyAlgorithm, "RSA_2048");
  const out = await text(signed.pem);
  assert.match(out, /Subject: C = DE, O = Acme, CN = Pending CA/);
  assert.match(out, /CA:TRUE, pathlen:0/);
});

test("sign-intermediate accepts an openssl-made CSR and refuses a notAfter past the parent's", async () => {
  const r = await root(-1, 31, now + 365 * DAY);
  const dir = t.dir;
  const gen = await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout", `${dir}/ext.key`, "-subj", "/CN=External Sub CA/O=Acme", "-out", `${dir}/ext.csr`]);
  assert.equal(gen.code, 0, gen.stderr);
  const csr = (await import("node:fs")).readFileSync(`${dir}/ext.csr`, "utf8");
  const ok = await signIntermediate(r.ctx, { csr, notBefore: now, notAfter: now + 100 * DAY });
  assert.equal(ok.keyAlgorithm, "EC_secp384r1");
  await assert.rejects(signIntermediate(r.ctx, { csr, notBefore: now, notAfter: now + 400 * DAY }), /after the parent CA's notAfter/);
});

test("prepareIssuer refuses a leaf certificate and a key that does not belong to the certificate", async () => {
  const r = await root(-1, 32);
  const other = await poolKey("EC_prime256v1", 33);
  assert.throws(() => prepareIssuer({ certificate: r.certificate.pem, privateKey: other.privateKey }), /private key does not match the CA certificate/);
  const leaf = await issueLeaf(r.ctx, { subject: { commonName: "leaf" }, notBefore: now, notAfter: now + DAY, publicKey: other.spkiDer });
  assert.throws(() => prepareIssuer({ certificate: leaf.pem, privateKey: other.privateKey }), (e: unknown) => e instanceof BadRequestError && /not a CA/.test((e as Error).message));
  assert.throws(() => prepareIssuer({ certificate: "not a pem", privateKey: other.privateKey }), /certificate: no PEM block labelled CERTIFICATE/);
});

test("dates from 2050 on are GeneralizedTime and still verify (RFC 5280 4.1.2.5)", async () => {
  const y2060 = Date.UTC(2060, 0, 1);
  const r = await root(-1, 34, y2060);
  const leafKey = await poolKey("EC_prime256v1", 35);
  const leaf = await issueLeaf(r.ctx, { subject: { commonName: "long.example.test" }, notBefore: Date.UTC(2049, 11, 31, 23, 59, 59), notAfter: Date.UTC(2055, 5, 1), publicKey: leafKey.spkiDer });
  const asn = await openssl(["asn1parse", "-in", t.write("long.pem", leaf.pem)]);
  assert.match(asn.stdout, /UTCTIME\s+:491231235959Z/);
  assert.match(asn.stdout, /GENERALIZEDTIME\s+:20550601000000Z/);
  const rootAsn = await openssl(["asn1parse", "-in", t.write("long-root.pem", r.certificate.pem)]);
  assert.match(rootAsn.stdout, /GENERALIZEDTIME\s+:20600101000000Z/);
  const attime = String(Date.UTC(2050, 5, 1) / 1000); // inside the leaf's window, which starts in 2049
  const v = await openssl(["verify", "-x509_strict", "-attime", attime, "-CAfile", t.write("long-root2.pem", r.certificate.pem), t.write("long2.pem", leaf.pem)]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test("CA refusals: empty subject, bad maxPathLength, RSA signature on an EC root", async () => {
  const k = await poolKey("EC_prime256v1", 36);
  const base = { keyAlgorithm: "EC_prime256v1" as const, keyPair: k, notBefore: now, notAfter: now + DAY };
  await assert.rejects(createRootCa({ ...base, subject: {} }), /a CA needs at least one subject field/);
  await assert.rejects(createRootCa({ ...base, subject: { commonName: "x" }, maxPathLength: -2 }), /maxPathLength: must be an integer ≥ -1/);
  await assert.rejects(createRootCa({ ...base, subject: { commonName: "x" }, signatureAlgorithm: "RSA-SHA512" }), /RSA-SHA512 needs an RSA issuer key, but the issuer key is EC_prime256v1/);
});
