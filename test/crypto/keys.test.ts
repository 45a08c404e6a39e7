/** Key generation: every algorithm, async, SPKI and PKCS#8 export, algorithm detection. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { KEY_ALGORITHMS, describeKey, exportPrivateKeyPem, generateKeyPair, keyAlgorithmOf, loadPrivateKey, spkiDerOf } from "../../src/crypto/keys.js";
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
