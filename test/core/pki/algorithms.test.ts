/** api.md 7.1/7.4 spellings and the issuer-key compatibility rule. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  assertSignatureCompatible, compatibleSignatureAlgorithms, defaultSignatureAlgorithm, extendedKeyUsageLegacyName, keyUsageLegacyName,
  normalizeExtendedKeyUsages, normalizeKeyUsages, parseKeyAlgorithm, parseSignatureAlgorithm, policyKeyName, policySignatureName,
  KEY_USAGES, EXTENDED_KEY_USAGES, revocationReasonCode, isRevocationReason,
} from "../../../src/core/pki/algorithms.js";
import { BadRequestError } from "../../../src/core/errors.js";

const spellings: [input: string, sig?: string, key?: string][] = [
  ["SHA256-RSA", "RSA-SHA256"], ["SHA384-RSA", "RSA-SHA384"], ["SHA512-RSA", "RSA-SHA512"],
  ["SHA256-ECDSA", "ECDSA-SHA256"], ["SHA384-ECDSA", "ECDSA-SHA384"], ["SHA512-ECDSA", "ECDSA-SHA512"],
  ["RSA-SHA256", "RSA-SHA256"], ["ECDSA-SHA512", "ECDSA-SHA512"],
  ["RSA-2048", undefined, "RSA_2048"], ["RSA-3072", undefined, "RSA_3072"], ["RSA-4096", undefined, "RSA_4096"],
  ["ECDSA-P256", undefined, "EC_prime256v1"], ["ECDSA-P384", undefined, "EC_secp384r1"], ["ECDSA-P521", undefined, "EC_secp521r1"],
  ["EC_secp384r1", undefined, "EC_secp384r1"], ["RSA_2048", undefined, "RSA_2048"], ["SHA1-RSA"], ["ECDSA-P224"],
];
for (const [input, sig, key] of spellings) {
  test(`spelling ${input} → ${sig ?? key ?? "unknown"}`, () => {
    assert.equal(parseSignatureAlgorithm(input), sig);
    assert.equal(parseKeyAlgorithm(input), key);
  });
}

test("policy names round trip", () => {
  assert.equal(policySignatureName("ECDSA-SHA384"), "SHA384-ECDSA");
  assert.equal(policyKeyName("EC_secp521r1"), "ECDSA-P521");
});

test("key usages: both spellings normalise, duplicates collapse, unknown names are named", () => {
  assert.deepEqual(normalizeKeyUsages(["digitalSignature", "digital_signature", "keyEncipherment", "cRLSign", "keyCertSign"]), ["digital_signature", "key_encipherment", "crl_sign", "key_cert_sign"]);
  assert.deepEqual(normalizeExtendedKeyUsages(["serverAuth", "client_auth", "ocspSigning", "timeStamping"]), ["server_auth", "client_auth", "ocsp_signing", "time_stamping"]);
  assert.throws(() => normalizeKeyUsages(["signing"], "attributes.keyUsages"), (e: unknown) => e instanceof BadRequestError && /attributes\.keyUsages: unknown value "signing"/.test((e as Error).message));
  for (const u of KEY_USAGES) assert.deepEqual(normalizeKeyUsages([keyUsageLegacyName(u)]), [u]);
  for (const u of EXTENDED_KEY_USAGES) assert.deepEqual(normalizeExtendedKeyUsages([extendedKeyUsageLegacyName(u)]), [u]);
  assert.equal(keyUsageLegacyName("crl_sign"), "cRLSign");
});

test("compatibility: RSA signatures need RSA issuer keys and the error names both", () => {
  assert.deepEqual(compatibleSignatureAlgorithms("RSA_4096"), ["RSA-SHA256", "RSA-SHA384", "RSA-SHA512"]);
  assert.deepEqual(compatibleSignatureAlgorithms("EC_secp521r1"), ["ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512"]);
  assert.doesNotThrow(() => assertSignatureCompatible("RSA-SHA512", "RSA_2048"));
  assert.throws(() => assertSignatureCompatible("RSA-SHA256", "EC_secp384r1"), /signatureAlgorithm: RSA-SHA256 needs an RSA issuer key, but the issuer key is EC_secp384r1/);
  assert.throws(() => assertSignatureCompatible("ECDSA-SHA256", "RSA_3072"), /ECDSA-SHA256 needs an EC issuer key, but the issuer key is RSA_3072/);
  assert.equal(defaultSignatureAlgorithm("EC_secp384r1"), "ECDSA-SHA384");
  assert.equal(defaultSignatureAlgorithm("RSA_4096"), "RSA-SHA256");
});

test("revocation reasons map to RFC 5280 codes", () => {
  assert.equal(revocationReasonCode("KEY_COMPROMISE"), 1);
  assert.equal(revocationReasonCode("PRIVILEGE_WITHDRAWN"), 9);
  assert.equal(revocationReasonCode("A_A_COMPROMISE"), 10);
  assert.equal(isRevocationReason("REMOVE_FROM_CRL"), false);
  assert.equal(isRevocationReason("toString"), false);
});
