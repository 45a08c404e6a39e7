import { constants, createHash, randomBytes, sign as signAsync, verify as verifyAsync, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { HASH_LENGTH, SIGNING_SCHEMES, type SigningAlgorithm } from "./algorithms.js";
import { signDigestP256, verifyDigestP256 } from "./p256.js";
import { signPkcs1Digest, signPssDigest, verifyPkcs1Digest, verifyPssDigest } from "./rsa-prehashed.js";

const sign = promisify(signAsync);
const verify = promisify(verifyAsync);

/**
 * Signs `data`, or with `isDigest` its already computed hash (whose length the caller checked). Whole messages
 * go through node:crypto's callback form (the thread pool); digests through rsa-prehashed.ts and p256.ts.
 * RSA-PSS salts are as long as the hash; ECDSA signatures are DER.
 */
export const signWith = async (key: KeyObject, algorithm: SigningAlgorithm, data: Buffer, isDigest: boolean): Promise<Buffer> => {
  const { padding, hash } = SIGNING_SCHEMES[algorithm];
  if (!isDigest) {
    if (padding === "ecdsa") return sign(hash, data, { key, dsaEncoding: "der" });
    if (padding === "pkcs1") return sign(hash, data, { key, padding: constants.RSA_PKCS1_PADDING });
    return sign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_LENGTH[hash] });
  }
  if (padding === "pkcs1") return signPkcs1Digest(key, hash, data);
  if (padding === "pss") return signPssDigest(key, hash, data, randomBytes(HASH_LENGTH[hash]));
  const jwk = key.export({ format: "jwk" });
  return signDigestP256(Buffer.from(jwk.d!, "base64url"), data);
};

export const verifyWith = async (key: KeyObject, algorithm: SigningAlgorithm, data: Buffer, signature: Buffer, isDigest: boolean): Promise<boolean> => {
  const { padding, hash } = SIGNING_SCHEMES[algorithm];
  const digest = isDigest ? data : createHash(hash).update(data).digest();
  if (padding === "pkcs1") return verifyPkcs1Digest(key, hash, digest, signature);
  if (padding === "pss") return verifyPssDigest(key, hash, digest, signature);
  if (!isDigest) return verify(hash, data, { key, dsaEncoding: "der" }, signature).catch(() => false);
  const jwk = key.export({ format: "jwk" });
  return verifyDigestP256({ x: Buffer.from(jwk.x!, "base64url"), y: Buffer.from(jwk.y!, "base64url") }, digest, signature);
};
