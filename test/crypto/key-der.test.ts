import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { ecPublicJwk, pkcs8DerFast, publicKeyFromSpki, spkiDerFast } from "../../src/crypto/key-der.js";

const KEYS = [
  { name: "RSA_2048", type: "rsa", opts: { modulusLength: 2048 } },
  { name: "RSA_3072", type: "rsa", opts: { modulusLength: 3072 } },
  { name: "RSA_4096", type: "rsa", opts: { modulusLength: 4096 } },
  { name: "EC_prime256v1", type: "ec", opts: { namedCurve: "prime256v1" } },
  { name: "EC_secp384r1", type: "ec", opts: { namedCurve: "secp384r1" } },
  { name: "EC_secp521r1", type: "ec", opts: { namedCurve: "secp521r1" } },
] as const;

for (const k of KEYS) {
  test(`${k.name}: SPKI and PKCS#8 are byte-identical to OpenSSL's, and the SPKI imports back`, () => {
    // Several keys each: leading-zero and high-bit cases of n, d, x, y come up by chance.
    for (let i = 0; i < (k.type === "rsa" ? 2 : 20); i++) {
      const { publicKey, privateKey } = generateKeyPairSync(k.type as "rsa", k.opts as { modulusLength: number });
      const spki = publicKey.export({ type: "spki", format: "der" });
      assert.deepEqual(spkiDerFast(publicKey), spki);
      assert.deepEqual(spkiDerFast(privateKey), spki);
      assert.deepEqual(pkcs8DerFast(privateKey), privateKey.export({ type: "pkcs8", format: "der" }));
      const imported = publicKeyFromSpki(spki);
      assert.ok(imported.equals(publicKey));
      const sig = sign("sha256", Buffer.from("data"), privateKey);
      assert.ok(verify("sha256", Buffer.from("data"), imported, sig));
    }
  });
}

test("the PKCS#8 loads back as the same private key", () => {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  assert.ok(createPrivateKey({ key: pkcs8DerFast(privateKey), format: "der", type: "pkcs8" }).equals(privateKey));
});

test("an EC point that is not on the curve is refused", () => {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = Buffer.from(publicKey.export({ type: "spki", format: "der" }));
  spki[spki.length - 1] ^= 0x01;
  assert.throws(() => publicKeyFromSpki(spki));
});

test("malformed or unsupported SPKI falls through to OpenSSL, which throws or decodes it", () => {
  assert.throws(() => publicKeyFromSpki(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])));
  assert.throws(() => publicKeyFromSpki(Buffer.from("not der")));
  const { publicKey } = generateKeyPairSync("ed25519");
  const spki = publicKey.export({ type: "spki", format: "der" });
  assert.ok(publicKeyFromSpki(spki).equals(createPublicKey({ key: spki, format: "der", type: "spki" })));
  assert.throws(() => spkiDerFast(publicKey), /no fast encoding/);
});

test("thousands of P-256 keys encode without stalling (Node 20's JWK export hung on a few per thousand)", { timeout: 60_000 }, () => {
  for (let i = 0; i < 2000; i++) {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    assert.equal(spkiDerFast(publicKey).length, 91);
    assert.ok(pkcs8DerFast(privateKey).length > 100);
  }
});

test("ecPublicJwk gives the key back through a JWK import, for every curve", () => {
  for (const namedCurve of ["prime256v1", "secp384r1", "secp521r1"]) {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve });
    assert.ok(createPublicKey({ key: ecPublicJwk(privateKey), format: "jwk" }).equals(publicKey), namedCurve);
  }
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  assert.throws(() => ecPublicJwk(publicKey), /P-256/);
});
