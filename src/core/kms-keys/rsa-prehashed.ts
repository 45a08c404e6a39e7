import { constants, createHash, privateEncrypt, publicDecrypt, timingSafeEqual, type KeyObject } from "node:crypto";
import type { HashName } from "./algorithms.js";

/**
 * RSA signatures over a digest the caller already computed (isDigest=true). node:crypto's `sign` always
 * hashes its input, so the encoded message is built here (RFC 8017: EMSA-PKCS1-v1_5 9.2, EMSA-PSS 9.1) and
 * put through the raw RSA private operation. PSS uses a salt as long as the hash, as `sign` does.
 */
const DIGEST_INFO: Record<HashName, Buffer> = {
  sha256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  sha384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  sha512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

export const signPkcs1Digest = (key: KeyObject, hash: HashName, digest: Buffer): Buffer =>
  privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO[hash], digest]));

export const verifyPkcs1Digest = (key: KeyObject, hash: HashName, digest: Buffer, signature: Buffer): boolean => {
  try {
    const em = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
    const want = Buffer.concat([DIGEST_INFO[hash], digest]);
    return em.length === want.length && timingSafeEqual(em, want);
  } catch {
    return false;
  }
};

const mgf1 = (hash: HashName, seed: Buffer, length: number): Buffer => {
  const out: Buffer[] = [];
  for (let counter = 0, have = 0; have < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
};

const modulusBits = (key: KeyObject) => key.asymmetricKeyDetails!.modulusLength!;

export const signPssDigest = (key: KeyObject, hash: HashName, digest: Buffer, salt: Buffer): Buffer => {
  const emBits = modulusBits(key) - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = digest.length;
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - salt.length - hLen - 2), Buffer.from([1]), salt]);
  const mask = mgf1(hash, h, emLen - hLen - 1);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modulusBits(key) / 8);
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.alloc(k - emLen), em]));
};

/** Any salt length is accepted, as `verify` with RSA_PSS_SALTLEN_AUTO does. */
export const verifyPssDigest = (key: KeyObject, hash: HashName, digest: Buffer, signature: Buffer): boolean => {
  const bits = modulusBits(key);
  const k = Math.ceil(bits / 8);
  if (signature.length !== k) return false;
  let raw: Buffer;
  try {
    raw = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  const emBits = bits - 1;
  const emLen = Math.ceil(emBits / 8);
  const em = raw.subarray(raw.length - emLen);
  if (raw.subarray(0, raw.length - emLen).some((b) => b !== 0)) return false;
  const hLen = digest.length;
  if (emLen < hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((em[0]! & ~topMask) !== 0) return false;
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= topMask;
  const one = db.findIndex((b) => b !== 0);
  if (one < 0 || db[one] !== 1) return false;
  const salt = db.subarray(one + 1);
  const h2 = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(h, h2);
};
