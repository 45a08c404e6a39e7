import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import type { KeyAlgorithm } from "./algorithms.js";

const generateKeyPairAsync = promisify(generateKeyPair);

/** New key material: raw AES key bytes, or a PKCS#8 DER private key with its SPKI DER public key. */
export interface KeyMaterial { secret: Buffer; publicKey: Buffer | null }

/** RSA generation takes a second or more: always on the thread pool, never on the event loop. */
export const generateKeyMaterial = async (algorithm: KeyAlgorithm): Promise<KeyMaterial> => {
  if (algorithm === "aes-256-gcm") return { secret: randomBytes(32), publicKey: null };
  if (algorithm === "aes-128-gcm") return { secret: randomBytes(16), publicKey: null };
  const pair = algorithm === "RSA_4096"
    ? await generateKeyPairAsync("rsa", { modulusLength: 4096 })
    : await generateKeyPairAsync("ec", { namedCurve: "P-256" });
  return {
    secret: pair.privateKey.export({ type: "pkcs8", format: "der" }),
    publicKey: pair.publicKey.export({ type: "spki", format: "der" }),
  };
};

export const privateKeyOf = (secret: Buffer): KeyObject => createPrivateKey({ key: secret, format: "der", type: "pkcs8" });
export const publicKeyOf = (spki: Buffer): KeyObject => createPublicKey({ key: spki, format: "der", type: "spki" });
