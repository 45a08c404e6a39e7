import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { EncryptionKeyMismatchError } from "../core/errors.js";
import { pooledRandomBytes } from "./random-pool.js";

/**
 * AES-256-GCM envelope encryption. Format of a ciphertext: `v1.<base64(iv ‖ tag ‖ ciphertext)>`.
 * The additional data (AAD) binds a ciphertext to its purpose and owner, so a value copied from one
 * row into another does not decrypt there.
 */
const VERSION = "v1";
const IV = 12;
const TAG = 16;

export const seal = (key: Buffer, plaintext: Buffer | string, aad: string): string => {
  // A random 96-bit IV per encryption, from the pooled CSPRNG (random-pool.ts): the hot path seals every
  // server-generated private key.
  const iv = pooledRandomBytes(IV);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64")}`;
};

export class DecryptionError extends Error {}

export const open = (key: Buffer, sealed: string, aad: string): Buffer => {
  const dot = sealed.indexOf(".");
  if (dot < 0 || sealed.slice(0, dot) !== VERSION) throw new DecryptionError("unknown ciphertext format");
  const raw = Buffer.from(sealed.slice(dot + 1), "base64");
  if (raw.length < IV + TAG) throw new DecryptionError("ciphertext too short");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(raw.subarray(IV, IV + TAG));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV + TAG)), decipher.final()]);
  } catch {
    throw new DecryptionError("ciphertext failed authentication");
  }
};

/** A short, non-secret fingerprint that lets an error say which key was used without revealing it. */
export const keyFingerprint = (key: Buffer): string => createHash("sha256").update(key).digest("hex").slice(0, 16);

const CHECK_AAD = "kms:root-key-check";
const CHECK_TEXT = "kms root key check";

/**
 * The root key wraps per-project data keys. A check value stored once in the database tells at start
 * whether the configured root key is the one the data was written with: a mismatch fails loudly
 * instead of producing garbage or half-readable data.
 */
export interface RootKeyring {
  fingerprint: string;
  wrapDataKey(dataKey: Buffer, ownerId: string): string;
  unwrapDataKey(wrapped: string, ownerId: string): Buffer;
  /** Encrypts server-wide data that belongs to no project (e.g. a PKI key of an org-level object). */
  seal(plaintext: Buffer | string, aad: string): string;
  open(sealed: string, aad: string): Buffer;
  checkValue(): string;
  verifyCheckValue(stored: string, storedFingerprint: string | undefined): void;
}

export const rootKeyring = (rootKey: Buffer): RootKeyring => {
  if (rootKey.length !== 32) throw new Error(`the root encryption key must be 32 bytes, got ${rootKey.length}`);
  const fingerprint = keyFingerprint(rootKey);
  return {
    fingerprint,
    wrapDataKey: (dataKey, ownerId) => seal(rootKey, dataKey, `kms:data-key:${ownerId}`),
    unwrapDataKey: (wrapped, ownerId) => open(rootKey, wrapped, `kms:data-key:${ownerId}`),
    seal: (plaintext, aad) => seal(rootKey, plaintext, `kms:root:${aad}`),
    open: (sealed, aad) => open(rootKey, sealed, `kms:root:${aad}`),
    checkValue: () => seal(rootKey, CHECK_TEXT, CHECK_AAD),
    verifyCheckValue: (stored, storedFingerprint) => {
      try {
        if (open(rootKey, stored, CHECK_AAD).toString() === CHECK_TEXT) return;
      } catch {
        /* fall through to the clear error below */
      }
      throw new EncryptionKeyMismatchError(
        `the encryption key (fingerprint ${fingerprint}) is not the one this database was written with` +
          (storedFingerprint ? ` (fingerprint ${storedFingerprint})` : "") +
          ": set KMS_ENCRYPTION_KEY to the original key or point --data-dir at the original key file",
      );
    },
  };
};
