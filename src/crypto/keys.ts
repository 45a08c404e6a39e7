/**
 * Key pairs for CAs and server-generated leaf keys. Generation always uses the callback form of
 * crypto.generateKeyPair, which runs on libuv's thread pool: RSA-2048 takes ~170 ms (long tail) and RSA-4096
 * seconds, and the event loop must keep serving meanwhile (DESIGN.md, performance facts).
 */
import { createECDH, createPrivateKey, createPublicKey, generateKeyPair as generateKeyPairCb } from "node:crypto";
import { takeP256 } from "./key-pool.js";
import type { KeyObject } from "node:crypto";
import { toPem } from "./der/pem.js";
import { bitString, integer, octetString, oid, sequence, tlvOf } from "./der/writer.js";
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

// RSA and EC keys the DER way (key-der.ts explains why never through JWK).
const fastEncoding = (key: KeyObject) =>
  key.asymmetricKeyType === "rsa" || (key.asymmetricKeyType === "ec" && CURVE_BY_NODE_NAME[key.asymmetricKeyDetails?.namedCurve ?? ""] !== undefined);

/** A key pair as a server-generated certificate needs it: the public key for the certificate, the private one for the client. */
export interface KeyMaterial {
  /** SubjectPublicKeyInfo DER. */
  readonly spkiDer: Buffer;
  /** PKCS#8 PEM, the form api.md returns as `privateKey`. */
  readonly privateKeyPem: string;
}

const EC_PUBLIC_KEY = oid("1.2.840.10045.2.1");
const P256 = oid("1.2.840.10045.3.1.7");
const P256_ALGORITHM = sequence([EC_PUBLIC_KEY, P256]);

/**
 * A fresh key pair, encoded, for a certificate the server issues with its own key (no KeyObject is needed:
 * the server never signs with it). P-256, the common case, is generated with OpenSSL's EC key generation
 * through ECDH (ahead of time on a worker thread when the pool has one: key-pool.ts) and encoded here from
 * the raw scalar and point: ~25 µs, where generateKeyPair plus OpenSSL 3's
 * SPKI and PKCS#8 encoders cost ~190 µs of event-loop time (measured on this machine kind), most of it the
 * encoders. The key is the same kind of key (uniform scalar on the named curve); the encoding is RFC 5480 /
 * RFC 5915 in PKCS#8 with the public key included, as OpenSSL writes it. Other algorithms: generateKeyPair.
 */
export const generateKeyMaterial = async (algorithm: KeyAlgorithm): Promise<KeyMaterial> => {
  if (algorithm === "EC_prime256v1") {
    // Made ahead on a worker thread (key-pool.ts) when one is ready; otherwise here.
    const made = takeP256();
    let d: Buffer;
    let point: Buffer;
    if (made) {
      ({ d, point } = made);
    } else {
      const ecdh = createECDH("prime256v1");
      point = ecdh.generateKeys();
      const raw = ecdh.getPrivateKey();
      // OpenSSL drops leading zero octets of the scalar; RFC 5915 wants exactly the order's length (32).
      d = Buffer.alloc(32);
      raw.copy(d, 32 - raw.length);
      raw.fill(0);
    }
    const der = sequence([integer(0), P256_ALGORITHM, octetString(sequence([integer(1), octetString(d), tlvOf(0xa1, [bitString(point)])]))]);
    const privateKeyPem = toPem("PRIVATE KEY", der);
    const spkiDer = sequence([P256_ALGORITHM, bitString(point)]);
    d.fill(0);
    der.fill(0);
    made?.wipe();
    return { spkiDer, privateKeyPem };
  }
  const kp = await generateKeyPair(algorithm);
  return { spkiDer: kp.spkiDer, privateKeyPem: exportPrivateKeyPem(kp.privateKey) };
};

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
