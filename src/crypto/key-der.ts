/**
 * Key encodings for the issuance hot path, written from JWK in JS instead of through OpenSSL 3's
 * encoder/decoder framework. Measured on this machine kind (Node 20, OpenSSL 3.0): exporting an EC P-256
 * SubjectPublicKeyInfo costs ~100-170 µs and a PKCS#8 PEM ~55-90 µs of event-loop time, a JWK export 2-7 µs;
 * importing an RSA public key from DER ~100-150 µs, from JWK ~5 µs; P-256 from DER ~105-175 µs, from JWK
 * ~55-90 µs. P-384/P-521 JWK imports are SLOWER than DER (~370 / ~950 µs), so those stay on DER.
 * The bytes are identical to OpenSSL's (test/crypto/key-der.test.ts compares them for every api.md key).
 */
import { createPublicKey } from "node:crypto";
import type { JsonWebKey, KeyObject } from "node:crypto";
import { DerError, children, contentOf, expectTag, readBitString, readOid, readRoot } from "./der/reader.js";
import { NULL, TAG, bitString, explicit, integer, integerFromUnsigned, octetString, oid, sequence } from "./der/writer.js";

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const CURVE_OIDS: Readonly<Record<string, string>> = { "P-256": "1.2.840.10045.3.1.7", "P-384": "1.3.132.0.34", "P-521": "1.3.132.0.35" };

// AlgorithmIdentifiers are the same for every key of a kind: encode each once.
const algIds = new Map<string, Buffer>();
const algorithmId = (crv: string | undefined): Buffer => {
  const k = crv ?? "RSA";
  let b = algIds.get(k);
  if (!b) {
    if (crv === undefined) b = sequence([oid(RSA_ENCRYPTION), NULL]);
    else {
      const curve = CURVE_OIDS[crv];
      if (!curve) throw new RangeError(`unsupported curve ${crv}`);
      b = sequence([oid(EC_PUBLIC_KEY), oid(curve)]);
    }
    algIds.set(k, b);
  }
  return b;
};

const b64u = (s: string | undefined, what: string): Buffer => {
  if (typeof s !== "string") throw new RangeError(`JWK member ${what} is missing`);
  return Buffer.from(s, "base64url");
};

const ecPoint = (jwk: JsonWebKey): Buffer => Buffer.concat([Buffer.from([0x04]), b64u(jwk.x, "x"), b64u(jwk.y, "y")]);
const rsaPublicKey = (jwk: JsonWebKey): Buffer => sequence([integerFromUnsigned(b64u(jwk.n, "n")), integerFromUnsigned(b64u(jwk.e, "e"))]);

const jwkOf = (key: KeyObject): JsonWebKey => {
  if (key.asymmetricKeyType !== "rsa" && key.asymmetricKeyType !== "ec") throw new RangeError(`no fast encoding for ${key.asymmetricKeyType} keys`);
  return key.export({ format: "jwk" });
};

/** SubjectPublicKeyInfo DER of an RSA or EC (P-256/384/521) key, public or private. */
export const spkiDerFast = (key: KeyObject): Buffer => {
  const jwk = jwkOf(key);
  return jwk.kty === "EC"
    ? sequence([algorithmId(jwk.crv), bitString(ecPoint(jwk))])
    : sequence([algorithmId(undefined), bitString(rsaPublicKey(jwk))]);
};

/**
 * PKCS#8 PrivateKeyInfo DER of an RSA or EC private key, as OpenSSL writes it: for EC the inner
 * ECPrivateKey (RFC 5915) carries the public key but not the curve (it is in the AlgorithmIdentifier).
 */
export const pkcs8DerFast = (key: KeyObject): Buffer => {
  if (key.type !== "private") throw new RangeError("pkcs8DerFast needs a private key");
  const jwk = jwkOf(key);
  const version = integer(0);
  if (jwk.kty === "EC") {
    const ecPrivateKey = sequence([integer(1), octetString(b64u(jwk.d, "d")), explicit(1, [bitString(ecPoint(jwk))])]);
    return sequence([version, algorithmId(jwk.crv), octetString(ecPrivateKey)]);
  }
  const n = (m: "n" | "e" | "d" | "p" | "q" | "dp" | "dq" | "qi") => integerFromUnsigned(b64u(jwk[m], m));
  const rsaPrivateKey = sequence([integer(0), n("n"), n("e"), n("d"), n("p"), n("q"), n("dp"), n("dq"), n("qi")]);
  return sequence([version, algorithmId(undefined), octetString(rsaPrivateKey)]);
};

/**
 * A public KeyObject from SubjectPublicKeyInfo DER. RSA and P-256 go through JWK (much cheaper, see above);
 * everything else, and anything our reader does not understand, through OpenSSL's DER decoder, which also
 * gives the errors for malformed input. Throws whatever createPublicKey throws.
 */
export const publicKeyFromSpki = (spki: Buffer): KeyObject => {
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
          return createPublicKey({ key: { kty: "RSA", n: stripZero(n).toString("base64url"), e: stripZero(e).toString("base64url") }, format: "jwk" });
        }
      }
    }
    if (unused === 0 && alg === EC_PUBLIC_KEY && algParts[1]?.tag === TAG.OID && readOid(spki, algParts[1], "curve") === CURVE_OIDS["P-256"]
      && bytes.length === 65 && bytes[0] === 0x04) {
      const x = bytes.subarray(1, 33).toString("base64url");
      const y = bytes.subarray(33).toString("base64url");
      return createPublicKey({ key: { kty: "EC", crv: "P-256", x, y }, format: "jwk" });
    }
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
  }
  return createPublicKey({ key: spki, format: "der", type: "spki" });
};

const minimalPositive = (b: Buffer): boolean => !(b[0]! & 0x80) && !(b[0] === 0 && b.length > 1 && !(b[1]! & 0x80));
const stripZero = (b: Buffer): Buffer => (b.length > 1 && b[0] === 0 ? b.subarray(1) : b);
