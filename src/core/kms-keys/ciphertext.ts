import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { BadRequestError } from "../errors.js";

/**
 * The ciphertext clients get from /encrypt (base64 of these bytes; server-private, clients only send it back):
 *
 *   format (1 byte, 0x01) ‖ key version (4 bytes, big-endian) ‖ IV (12) ‖ GCM tag (16) ‖ encrypted plaintext
 *
 * The version says which of the key's versions to decrypt with, so ciphertext outlives rotations. The
 * additional data binds it to its key and version: a ciphertext handed to another key fails authentication.
 */
const FORMAT = 0x01;
const HEADER = 1 + 4;
const IV = 12;
const TAG = 16;

const aad = (keyId: string, version: number) => Buffer.from(`kms-key:${keyId}:v${version}`);
const cipherName = (key: Buffer) => (key.length === 16 ? "aes-128-gcm" : "aes-256-gcm");

export const encryptPayload = (keyId: string, version: number, key: Buffer, plaintext: Buffer): Buffer => {
  const iv = randomBytes(IV);
  const c = createCipheriv(cipherName(key), key, iv);
  c.setAAD(aad(keyId, version));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  const head = Buffer.alloc(HEADER);
  head[0] = FORMAT;
  head.writeUInt32BE(version, 1);
  return Buffer.concat([head, iv, c.getAuthTag(), body]);
};

const corrupt = () => new BadRequestError("ciphertext: not a ciphertext of this key (corrupt, tampered with, or made by another key)");

/** The version a ciphertext names; 400 when it cannot be one of ours. */
export const versionOf = (raw: Buffer): number => {
  if (raw.length < HEADER + IV + TAG || raw[0] !== FORMAT) throw corrupt();
  const v = raw.readUInt32BE(1);
  if (v < 1) throw corrupt();
  return v;
};

export const decryptPayload = (keyId: string, key: Buffer, raw: Buffer): Buffer => {
  const version = versionOf(raw);
  const d = createDecipheriv(cipherName(key), key, raw.subarray(HEADER, HEADER + IV));
  d.setAAD(aad(keyId, version));
  d.setAuthTag(raw.subarray(HEADER + IV, HEADER + IV + TAG));
  try {
    return Buffer.concat([d.update(raw.subarray(HEADER + IV + TAG)), d.final()]);
  } catch {
    throw corrupt();
  }
};

/** Strict base64 (RFC 4648 4, padded): Buffer.from would skip junk silently. */
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const decodeCiphertext = (text: string): Buffer => {
  if (!BASE64.test(text)) throw corrupt();
  return Buffer.from(text, "base64");
};
