/**
 * Key encodings for the issuance hot path.
 *
 * Exports go through OpenSSL's DER encoder, never `KeyObject.export({ format: "jwk" })`: on Node 20.20 that
 * export hangs now and then on EC keys (a few per thousand P-256 keys, in a loop that never returns), which
 * froze the event loop mid-issuance; DER export of the same keys does not. Imports of RSA and P-256 public
 * keys do go through JWK, which is much cheaper than the DER decoder and does not hang: measured on this
 * machine kind, RSA from DER ~100-150 µs, from JWK ~5 µs; P-256 from DER ~105-175 µs, from JWK ~55-90 µs.
 * P-384/P-521 JWK imports are slower than DER (~370 / ~950 µs), so those stay on DER.
 * Reading a public key out of DER (a PKCS#8 key's own, a certificate's) costs microseconds, where OpenSSL 3
 * builds a whole key object first: the certificate agent compares them that way before it installs a set.
 */
import { createPublicKey } from "node:crypto";
import type { JsonWebKey, KeyObject } from "node:crypto";
import { DerError, bytesOf, children, contentOf, expectTag, readBitString, readOctetString, readOid, readRoot } from "./der/reader.js";
import { TAG, bitString, sequence } from "./der/writer.js";

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const CURVE_OIDS: Readonly<Record<string, string>> = { "P-256": "1.2.840.10045.3.1.7", "P-384": "1.3.132.0.34", "P-521": "1.3.132.0.35" };

const supported = (key: KeyObject) => {
  if (key.asymmetricKeyType !== "rsa" && key.asymmetricKeyType !== "ec") throw new RangeError(`no fast encoding for ${key.asymmetricKeyType} keys`);
};

/** SubjectPublicKeyInfo DER of an RSA or EC (P-256/384/521) key, public or private. */
export const spkiDerFast = (key: KeyObject): Buffer => {
  supported(key);
  return (key.type === "private" ? createPublicKey(key) : key).export({ type: "spki", format: "der" });
};

/** PKCS#8 PrivateKeyInfo DER of an RSA or EC private key. */
export const pkcs8DerFast = (key: KeyObject): Buffer => {
  if (key.type !== "private") throw new RangeError("pkcs8DerFast needs a private key");
  supported(key);
  return key.export({ type: "pkcs8", format: "der" });
};

/** The public JWK (RFC 7517) of an EC key, read from its SPKI: what ACME account keys are sent as. */
export const ecPublicJwk = (key: KeyObject): JsonWebKey => {
  const spki = spkiDerFast(key);
  const root = expectTag(readRoot(spki, "SubjectPublicKeyInfo"), TAG.SEQUENCE, "SubjectPublicKeyInfo");
  const [algT, keyT] = children(spki, root, "SubjectPublicKeyInfo");
  const [algOid, curveT] = children(spki, expectTag(algT, TAG.SEQUENCE, "algorithm"), "algorithm");
  const notEc = () => new RangeError("ecPublicJwk needs a P-256, P-384 or P-521 key");
  if (readOid(spki, algOid, "algorithm") !== EC_PUBLIC_KEY || curveT?.tag !== TAG.OID) throw notEc();
  const curve = readOid(spki, curveT, "curve");
  const crv = Object.keys(CURVE_OIDS).find((c) => CURVE_OIDS[c] === curve);
  const { bytes } = readBitString(spki, keyT, "subjectPublicKey");
  if (!crv || bytes[0] !== 0x04) throw notEc();
  const half = (bytes.length - 1) / 2;
  return { kty: "EC", crv, x: bytes.subarray(1, 1 + half).toString("base64url"), y: bytes.subarray(1 + half).toString("base64url") };
};

/** What createPublicKey takes: a public JWK, or SubjectPublicKeyInfo DER. Plain data, so it can cross to a worker. */
export type PublicKeyInput = { key: JsonWebKey; format: "jwk" } | { key: Buffer; format: "der"; type: "spki" };

/**
 * A public KeyObject from SubjectPublicKeyInfo DER. RSA and P-256 go through JWK (much cheaper, see above);
 * everything else, and anything our reader does not understand, through OpenSSL's DER decoder, which also
 * gives the errors for malformed input. Throws whatever createPublicKey throws.
 */
export const publicKeyFromSpki = (spki: Buffer): KeyObject => createPublicKey(publicKeyInputFromSpki(spki));

/** The cheapest createPublicKey input for an SPKI (see publicKeyFromSpki); reads it, never throws. */
export const publicKeyInputFromSpki = (spki: Buffer): PublicKeyInput => {
  try {
    const root = expectTag(readRoot(spki, "SubjectPublicKeyInfo"), TAG.SEQUENCE, "SubjectPublicKeyInfo");
    const [algT, keyT] = children(spki, root, "SubjectPublicKeyInfo");
    const algParts = children(spki, expectTag(algT, TAG.SEQUENCE, "algorithm"), "algorithm");
    const alg = readOid(spki, algParts[0], "algorithm");
    const { bytes, unused } = readBitString(spki, keyT, "subjectPublicKey");
    if (unused === 0 && alg === RSA_ENCRYPTION) {
      const rsa = expectTag(readRoot(bytes, "RSAPublicKey"), TAG.SEQUENCE, "RSAPublicKey");
      const [nT, eT, extra] = children(bytes, rsa, "RSAPublicKey");
      if (!extra) {
        const n = contentOf(bytes, expectTag(nT, TAG.INTEGER, "modulus"));
        const e = contentOf(bytes, expectTag(eT, TAG.INTEGER, "exponent"));
        // Negative or non-minimal integers are malformed: let OpenSSL judge those.
        if (n.length > 1 && minimalPositive(n) && e.length > 0 && minimalPositive(e)) {
          return { key: { kty: "RSA", n: stripZero(n).toString("base64url"), e: stripZero(e).toString("base64url") }, format: "jwk" };
        }
      }
    }
    if (unused === 0 && alg === EC_PUBLIC_KEY && algParts[1]?.tag === TAG.OID && readOid(spki, algParts[1], "curve") === CURVE_OIDS["P-256"]
      && bytes.length === 65 && bytes[0] === 0x04) {
      const x = bytes.subarray(1, 33).toString("base64url");
      const y = bytes.subarray(33).toString("base64url");
      return { key: { kty: "EC", crv: "P-256", x, y }, format: "jwk" };
    }
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
  }
  return { key: spki, format: "der", type: "spki" };
};

const minimalPositive = (b: Buffer): boolean => !(b[0]! & 0x80) && !(b[0] === 0 && b.length > 1 && !(b[1]! & 0x80));
const stripZero = (b: Buffer): Buffer => (b.length > 1 && b[0] === 0 ? b.subarray(1) : b);

/**
 * The SubjectPublicKeyInfo a PKCS#8 PrivateKeyInfo carries within itself: an EC key's optional publicKey field
 * (OpenSSL and this server write it), an RSA key's modulus and exponent. Undefined for other keys and for an EC
 * key without its public key; DerError for what our reader does not follow.
 */
export const pkcs8EmbeddedSpki = (der: Buffer): Buffer | undefined => {
  const [, algT, keyT] = children(der, expectTag(readRoot(der, "PrivateKeyInfo"), TAG.SEQUENCE, "PrivateKeyInfo"), "PrivateKeyInfo");
  const alg = bytesOf(der, expectTag(algT, TAG.SEQUENCE, "algorithm"));
  const oid = readOid(der, children(der, algT!, "algorithm")[0], "algorithm");
  const inner = readOctetString(der, keyT, "privateKey");
  const fields = children(inner, expectTag(readRoot(inner, "privateKey"), TAG.SEQUENCE, "privateKey"), "privateKey");
  if (oid === EC_PUBLIC_KEY) {
    // ECPrivateKey: version, privateKey, [0] parameters OPTIONAL, [1] publicKey OPTIONAL
    const pub = fields.find((f) => f.tag === 0xa1);
    return pub && sequence([alg, bytesOf(inner, expectTag(children(inner, pub, "publicKey")[0], TAG.BIT_STRING, "publicKey"))]);
  }
  if (oid === RSA_ENCRYPTION) {
    // RSAPrivateKey: version, modulus, publicExponent, …
    const [, n, e] = fields;
    return sequence([alg, bitString(sequence([bytesOf(inner, expectTag(n, TAG.INTEGER, "modulus")), bytesOf(inner, expectTag(e, TAG.INTEGER, "exponent"))]))]);
  }
  return undefined;
};

/** A certificate's SubjectPublicKeyInfo, read from its DER (cheaper than OpenSSL's export of its key). */
export const certificateSpki = (der: Buffer): Buffer => {
  const [tbsT] = children(der, readRoot(der, "Certificate"), "Certificate");
  const tbs = children(der, expectTag(tbsT, TAG.SEQUENCE, "tbsCertificate"), "tbsCertificate");
  // version [0] is optional; then serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  return bytesOf(der, expectTag(tbs[tbs[0]?.tag === 0xa0 ? 6 : 5], TAG.SEQUENCE, "subjectPublicKeyInfo"));
};
