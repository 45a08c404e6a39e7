/**
 * Key pairs for CAs and server-generated leaf keys. Generation always uses the callback form of
 * crypto.generateKeyPair, which runs on libuv's thread pool: RSA-2048 takes ~170 ms (long tail) and RSA-4096
 * seconds, and the event loop must keep serving meanwhile (DESIGN.md, performance facts).
 */
import { createPrivateKey, createPublicKey, generateKeyPair as generateKeyPairCb } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { toPem } from "./der/pem.js";
import { pkcs8DerFast, spkiDerFast } from "./key-der.js";

/** api.md 7.1 `CertKeyAlgorithm`. */
export const KEY_ALGORITHMS = ["RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export type KeySpec = { readonly type: "rsa"; readonly bits: 2048 | 3072 | 4096 } | { readonly type: "ec"; readonly curve: EcCurve };
export type EcCurve = "prime256v1" | "secp384r1" | "secp521r1";

export const KEY_SPECS: Readonly<Record<KeyAlgorithm, KeySpec>> = {
  RSA_2048: { type: "rsa", bits: 2048 },
  RSA_3072: { type: "rsa", bits: 3072 },
  RSA_4096: { type: "rsa", bits: 4096 },
  EC_prime256v1: { type: "ec", curve: "prime256v1" },
  EC_secp384r1: { type: "ec", curve: "secp384r1" },
  EC_secp521r1: { type: "ec", curve: "secp521r1" },
};

export const isKeyAlgorithm = (s: unknown): s is KeyAlgorithm => typeof s === "string" && (KEY_ALGORITHMS as readonly string[]).includes(s);

export interface GeneratedKeyPair {
  readonly algorithm: KeyAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER: what goes into a certificate. */
  readonly spkiDer: Buffer;
}

export const generateKeyPair = (algorithm: KeyAlgorithm): Promise<GeneratedKeyPair> =>
  new Promise((resolve, reject) => {
    const spec = KEY_SPECS[algorithm];
    if (!spec) {
      reject(new RangeError(`unknown key algorithm ${JSON.stringify(algorithm)}`));
      return;
    }
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (err) reject(err);
      else resolve({ algorithm, privateKey, publicKey, spkiDer: spkiDerOf(publicKey) });
    };
    if (spec.type === "rsa") generateKeyPairCb("rsa", { modulusLength: spec.bits, publicExponent: 0x10001 }, done);
    // Named-curve encoding is Node's default; explicit curve parameters would fail `openssl verify -x509_strict`.
    else generateKeyPairCb("ec", { namedCurve: spec.curve }, done);
  });

// RSA and EC keys are encoded from their JWK (key-der.ts): same bytes, a fraction of OpenSSL 3's encoder cost.
const fastEncoding = (key: KeyObject) =>
  key.asymmetricKeyType === "rsa" || (key.asymmetricKeyType === "ec" && CURVE_BY_NODE_NAME[key.asymmetricKeyDetails?.namedCurve ?? ""] !== undefined);

/** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the form api.md returns as `privateKey`. */
export const exportPrivateKeyPem = (key: KeyObject): string =>
  fastEncoding(key) && key.type === "private" ? toPem("PRIVATE KEY", pkcs8DerFast(key)) : (key.export({ type: "pkcs8", format: "pem" }) as string);

export const spkiDerOf = (key: KeyObject): Buffer =>
  fastEncoding(key) ? spkiDerFast(key) : (key.type === "private" ? createPublicKey(key) : key).export({ type: "spki", format: "der" });

/** Accepts PKCS#8, PKCS#1 (RSA) and SEC1 (EC) PEM, or a KeyObject. */
export const loadPrivateKey = (key: string | Buffer | KeyObject): KeyObject =>
  typeof key === "string" || Buffer.isBuffer(key) ? createPrivateKey(key) : key;

const CURVE_BY_NODE_NAME: Readonly<Record<string, KeyAlgorithm>> = {
  prime256v1: "EC_prime256v1",
  secp384r1: "EC_secp384r1",
  secp521r1: "EC_secp521r1",
};

/** The api.md key algorithm of a key, or undefined for anything else (RSA-1024, Ed25519, brainpool, ...). */
export const keyAlgorithmOf = (key: KeyObject): KeyAlgorithm | undefined => {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa") {
    const bits = d?.modulusLength;
    return bits === 2048 ? "RSA_2048" : bits === 3072 ? "RSA_3072" : bits === 4096 ? "RSA_4096" : undefined;
  }
  if (key.asymmetricKeyType === "ec") return CURVE_BY_NODE_NAME[d?.namedCurve ?? ""];
  return undefined;
};

/** A human description of any key, for error messages ("RSA 1024", "EC secp256k1", "ed25519"). */
export const describeKey = (key: KeyObject): string => {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa") return `RSA ${d?.modulusLength ?? "?"}`;
  if (key.asymmetricKeyType === "ec") return `EC ${d?.namedCurve ?? "?"}`;
  return String(key.asymmetricKeyType);
};
