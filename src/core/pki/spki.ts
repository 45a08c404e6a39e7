/**
 * Facts about a SubjectPublicKeyInfo read straight from its DER (no KeyObject, so it is cheap on the hot
 * path): the api.md key algorithm when it is one we issue for, a description for error messages, and the
 * RFC 5280 key identifier.
 */
import { hash } from "node:crypto";
import { TAG } from "../../crypto/der/writer.js";
import { DerError, children, contentOf, expectTag, readBitString, readOid, readRoot } from "../../crypto/der/reader.js";
import type { KeyAlgorithm } from "../../crypto/keys.js";

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const CURVES: Readonly<Record<string, { name: string; alg: KeyAlgorithm }>> = {
  "1.2.840.10045.3.1.7": { name: "prime256v1", alg: "EC_prime256v1" },
  "1.3.132.0.34": { name: "secp384r1", alg: "EC_secp384r1" },
  "1.3.132.0.35": { name: "secp521r1", alg: "EC_secp521r1" },
};
const OTHER_KEYS: Readonly<Record<string, string>> = {
  "1.3.101.112": "Ed25519", "1.3.101.113": "Ed448", "1.2.840.113549.1.1.10": "RSA-PSS", "1.2.840.10040.4.1": "DSA",
};

export interface SpkiInfo {
  /** Undefined when the key is not one of api.md's six (RSA-1024, Ed25519, secp256k1, explicit curves, ...). */
  readonly keyAlgorithm?: KeyAlgorithm;
  /** "RSA 2048", "EC prime256v1", "Ed25519", "EC 1.3.132.0.10", ... */
  readonly description: string;
  /** SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1): the SKI we write. */
  readonly keyId: Buffer;
}

export const spkiInfo = (spki: Uint8Array): SpkiInfo => {
  const root = expectTag(readRoot(spki, "SubjectPublicKeyInfo"), TAG.SEQUENCE, "SubjectPublicKeyInfo");
  const [algId, keyT] = children(spki, root, "SubjectPublicKeyInfo");
  const algParts = children(spki, expectTag(algId, TAG.SEQUENCE, "SubjectPublicKeyInfo algorithm"), "SubjectPublicKeyInfo algorithm");
  const algOid = readOid(spki, algParts[0], "SubjectPublicKeyInfo algorithm");
  const { bytes, unused } = readBitString(spki, keyT, "subjectPublicKey");
  if (unused !== 0) throw new DerError("subjectPublicKey: unused bits in a key");
  const keyId = hash("sha1", bytes, "buffer");
  if (algOid === RSA_ENCRYPTION) {
    const rsa = expectTag(readRoot(bytes, "RSAPublicKey"), TAG.SEQUENCE, "RSAPublicKey");
    const [modulus] = children(bytes, rsa, "RSAPublicKey");
    const m = contentOf(bytes, expectTag(modulus, TAG.INTEGER, "RSA modulus"));
    let i = 0;
    while (i < m.length && m[i] === 0) i++;
    const bits = m.length > i ? (m.length - i - 1) * 8 + (32 - Math.clz32(m[i])) : 0;
    const alg = bits === 2048 ? "RSA_2048" : bits === 3072 ? "RSA_3072" : bits === 4096 ? "RSA_4096" : undefined;
    return { ...(alg && { keyAlgorithm: alg }), description: `RSA ${bits}`, keyId };
  }
  if (algOid === EC_PUBLIC_KEY) {
    // Named curves only: explicit parameters (a SEQUENCE here) fail `openssl verify -x509_strict` (RFC 5480 2.1.1).
    if (algParts[1]?.tag !== TAG.OID) return { description: "EC with explicit curve parameters", keyId };
    const curveOid = readOid(spki, algParts[1], "EC curve");
    const curve = CURVES[curveOid];
    return curve ? { keyAlgorithm: curve.alg, description: `EC ${curve.name}`, keyId } : { description: `EC ${curveOid}`, keyId };
  }
  return { description: OTHER_KEYS[algOid] ?? `key ${algOid}`, keyId };
};
