/**
 * Every key algorithm × every signature algorithm it can make: root (key K) signs an intermediate with S,
 * the intermediate (key K) signs a leaf with S; openssl verifies the chain strictly and for TLS servers,
 * and @peculiar/x509 (an independent ASN.1 stack) re-checks each signature. Leaf keys rotate through all six
 * algorithms so every SPKI kind is issued too.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { x509 } from "../../../src/crypto/x509.js";
import { KEY_ALGORITHMS, compatibleSignatureAlgorithms } from "../../../src/core/pki/algorithms.js";
import type { KeyAlgorithm, SignatureAlgorithm } from "../../../src/core/pki/algorithms.js";
import { createIntermediateCa, createRootCa } from "../../../src/core/pki/ca.js";
import { prepareIssuer } from "../../../src/core/pki/issuer.js";
import { issueLeaf } from "../../../src/core/pki/issue.js";
import { DAY, URLS, openssl, poolKey, tmp } from "./helpers.js";

const t = tmp();
after(() => t.cleanup());
const now = Date.now();

const OPENSSL_SIG: Record<SignatureAlgorithm, string> = {
  "RSA-SHA256": "sha256WithRSAEncryption", "RSA-SHA384": "sha384WithRSAEncryption", "RSA-SHA512": "sha512WithRSAEncryption",
  "ECDSA-SHA256": "ecdsa-with-SHA256", "ECDSA-SHA384": "ecdsa-with-SHA384", "ECDSA-SHA512": "ecdsa-with-SHA512",
};
const OPENSSL_KEY: Record<KeyAlgorithm, RegExp> = {
  RSA_2048: /Public-Key: \(2048 bit\)/, RSA_3072: /Public-Key: \(3072 bit\)/, RSA_4096: /Public-Key: \(4096 bit\)/,
  EC_prime256v1: /ASN1 OID: prime256v1/, EC_secp384r1: /ASN1 OID: secp384r1/, EC_secp521r1: /ASN1 OID: secp521r1/,
};

// Start every key generation at once: the thread pool spreads them over both cores.
const plan = KEY_ALGORITHMS.flatMap((k, g) =>
  compatibleSignatureAlgorithms(k).map((s, i) => ({ issuerKey: k, sig: s, leafKey: KEY_ALGORITHMS[(g + i + 1) % KEY_ALGORITHMS.length] })),
);
for (const p of plan) {
  void poolKey(p.issuerKey, 1);
  void poolKey(p.issuerKey === "RSA_4096" ? "RSA_2048" : p.issuerKey, 2);
  void poolKey(p.leafKey, 3);
}

test("the plan covers 18 combinations and every key algorithm as a leaf key", () => {
  assert.equal(plan.length, 18);
  assert.deepEqual(new Set(plan.map((p) => p.leafKey)), new Set(KEY_ALGORITHMS));
});

for (const p of plan) {
  test(`${p.issuerKey} CA signing with ${p.sig}, leaf key ${p.leafKey}`, async () => {
    const rootKey = await poolKey(p.issuerKey, 1);
    const interKey = await poolKey(p.issuerKey === "RSA_4096" ? "RSA_2048" : p.issuerKey, 2);
    const leafKey = await poolKey(p.leafKey, 3);
    assert.notEqual(rootKey, interKey);
    assert.notEqual(interKey, leafKey);
    const root = await createRootCa({
      subject: { commonName: `Root ${p.issuerKey}`, organization: "Acme", country: "US" },
      keyAlgorithm: p.issuerKey, keyPair: rootKey, notBefore: now - 60_000, notAfter: now + 3650 * DAY, maxPathLength: 1,
    });
    const rootCtx = prepareIssuer({ certificate: root.certificate.pem, privateKey: root.keyPair.privateKey, urls: URLS });
    const inter = await createIntermediateCa(rootCtx, {
      subject: { commonName: `Issuing ${p.issuerKey} ${p.sig}`, organization: "Acme" },
      keyAlgorithm: interKey.algorithm, keyPair: interKey, signatureAlgorithm: p.sig,
      notBefore: now - 60_000, notAfter: now + 1825 * DAY, maxPathLength: 0,
    });
    const interCtx = prepareIssuer({ certificate: inter.certificate.der, privateKey: inter.keyPair.privateKey, urls: URLS });
    const leaf = await issueLeaf(interCtx, {
      subject: { commonName: "svc.example.test", organization: "Acme" },
      sans: [{ type: "dns_name", value: "svc.example.test" }, { type: "ip_address", value: "127.0.0.1" }],
      keyUsages: p.leafKey.startsWith("RSA") ? ["digital_signature", "key_encipherment"] : ["digital_signature"],
      extendedKeyUsages: ["server_auth", "client_auth"],
      notBefore: now - 1000, notAfter: now + 90 * DAY, publicKey: leafKey.spkiDer, signatureAlgorithm: p.sig,
    });

    const id = `${p.issuerKey}-${p.sig}`;
    const rootPath = t.write(`${id}-root.pem`, root.certificate.pem);
    const chainPath = t.write(`${id}-chain.pem`, inter.certificate.pem);
    const leafPath = t.write(`${id}-leaf.pem`, leaf.pem);
    const v = await openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", rootPath, "-untrusted", chainPath, leafPath]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /: OK/);

    const text = await openssl(["x509", "-in", leafPath, "-noout", "-text"]);
    assert.match(text.stdout, new RegExp(`Signature Algorithm: ${OPENSSL_SIG[p.sig]}`));
    assert.match(text.stdout, OPENSSL_KEY[p.leafKey]);
    const interText = await openssl(["x509", "-in", chainPath, "-noout", "-text"]);
    assert.match(interText.stdout, new RegExp(`Signature Algorithm: ${OPENSSL_SIG[p.sig]}`));

    // An independent ASN.1 stack agrees on the signatures.
    const leafX = new x509.X509Certificate(leaf.der);
    const interX = new x509.X509Certificate(inter.certificate.der);
    assert.equal(await leafX.verify({ publicKey: interX, signatureOnly: true }), true);
    assert.equal(await interX.verify({ publicKey: new x509.X509Certificate(root.certificate.der), signatureOnly: true }), true);
  });
}
