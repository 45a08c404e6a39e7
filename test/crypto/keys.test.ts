/** Key generation: every algorithm, async, SPKI and PKCS#8 export, algorithm detection. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { KEY_ALGORITHMS, describeKey, exportPrivateKeyPem, generateKeyMaterial, generateKeyPair, keyAlgorithmOf, loadPrivateKey, spkiDerOf } from "../../src/crypto/keys.js";
import type { KeyAlgorithm } from "../../src/crypto/keys.js";

// RSA_4096 is slow (seconds) and covered by test/core/pki/issue-matrix.test.ts; the rest are generated here.
const here: KeyAlgorithm[] = KEY_ALGORITHMS.filter((a) => a !== "RSA_4096");

for (const alg of here) {
  test(`${alg}: generated, detected, exported`, async () => {
    const kp = await generateKeyPair(alg);
    assert.equal(kp.algorithm, alg);
    assert.equal(keyAlgorithmOf(kp.privateKey), alg);
    assert.equal(keyAlgorithmOf(kp.publicKey), alg);
    const pem = exportPrivateKeyPem(kp.privateKey);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.deepEqual(spkiDerOf(loadPrivateKey(pem)), kp.spkiDer);
    assert.deepEqual(createPublicKey({ key: kp.spkiDer, format: "der", type: "spki" }).export({ type: "spki", format: "der" }), kp.spkiDer);
  });
}

for (const alg of here) {
  test(`${alg}: key material for a server-generated certificate is a matching pair, encoded as OpenSSL encodes it`, async () => {
    const m = await generateKeyMaterial(alg);
    const key = createPrivateKey(m.privateKeyPem);
    assert.equal(keyAlgorithmOf(key), alg);
    assert.deepEqual(createPublicKey(key).export({ type: "spki", format: "der" }), m.spkiDer, "the private key belongs to the public key");
    assert.equal(key.export({ type: "pkcs8", format: "pem" }), m.privateKeyPem, "PKCS#8 byte for byte as OpenSSL writes it");
  });
}

test("P-256 key material: every key valid for openssl, scalars with leading zero octets kept at 32 octets", async () => {
  const { execFileSync } = await import("node:child_process");
  const seen = new Set<string>();
  let shortScalars = 0;
  // ~1 in 256 scalars has a leading zero octet, which OpenSSL's raw export drops: 3,000 keys meet several.
  for (let i = 0; i < 3000; i++) {
    const m = await generateKeyMaterial("EC_prime256v1");
    // The scalar's first octet, at its fixed place in P-256 PKCS#8 (never via JWK export: it can hang on Node 20).
    const der = createPrivateKey(m.privateKeyPem).export({ type: "pkcs8", format: "der" });
    assert.deepEqual(der.subarray(34, 36), Buffer.from([0x04, 0x20]), "a 32-octet privateKey OCTET STRING");
    if (der[36] === 0) shortScalars++;
    assert.equal(createPrivateKey(m.privateKeyPem).export({ type: "pkcs8", format: "pem" }), m.privateKeyPem);
    seen.add(m.privateKeyPem);
    if (i < 3) execFileSync("openssl", ["pkey", "-check", "-noout"], { input: m.privateKeyPem });
  }
  assert.equal(seen.size, 3000, "no key repeats");
  assert.ok(shortScalars > 0, "the sample included scalars with a leading zero octet");
});

test("generation does not block the event loop", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  await Promise.all([generateKeyPair("RSA_2048"), generateKeyPair("RSA_2048")]);
  clearInterval(timer);
  assert.ok(ticks > 5, `the loop ran ${ticks} times while two RSA keys were generated`);
});

test("foreign keys are described, not mapped", () => {
  const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
  assert.equal(keyAlgorithmOf(rsa1024), undefined);
  assert.equal(describeKey(rsa1024), "RSA 1024");
  const ed = generateKeyPairSync("ed25519").privateKey;
  assert.equal(keyAlgorithmOf(ed), undefined);
  assert.equal(describeKey(ed), "ed25519");
  const k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey;
  assert.equal(keyAlgorithmOf(k1), undefined);
  assert.equal(describeKey(k1), "EC secp256k1");
});

test("loadPrivateKey accepts PKCS#1 and SEC1 PEM too; unknown algorithm names are refused", async () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pkcs1 = rsa.privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  assert.equal(keyAlgorithmOf(loadPrivateKey(pkcs1)), "RSA_2048");
  const ec = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  assert.equal(keyAlgorithmOf(createPrivateKey(ec.privateKey.export({ type: "sec1", format: "pem" }) as string)), "EC_secp384r1");
  await assert.rejects(generateKeyPair("RSA_1024" as KeyAlgorithm), /unknown key algorithm "RSA_1024"/);
});
