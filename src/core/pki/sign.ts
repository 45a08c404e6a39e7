/**
 * Signing, always through node:crypto's callback form, which runs on libuv's thread pool: the event loop
 * stays free and both cores sign (ECDSA P-256 ~29,000/s per core, RSA-2048 ~1,450/s: DESIGN.md).
 * ECDSA signatures come out DER-encoded (Ecdsa-Sig-Value), RSA ones PKCS#1 v1.5: what X.509 wants.
 */
import { sign as signCb } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { bitString, sequence } from "../../crypto/der/writer.js";
import { signatureAlgorithmIdentifier, signatureHash } from "./algorithms.js";
import type { SignatureAlgorithm } from "./algorithms.js";

export const signAsync = (algorithm: SignatureAlgorithm, data: Uint8Array, key: KeyObject): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    signCb(signatureHash(algorithm), data, key, (err, sig) => (err ? reject(err) : resolve(sig)));
  });

/**
 * SEQUENCE { toBeSigned, AlgorithmIdentifier, BIT STRING signature }: the envelope shared by certificates,
 * CRLs and PKCS#10 requests. Callers put the same AlgorithmIdentifier inside `tbs` (RFC 5280 4.1.1.2).
 */
export const signEnvelope = async (tbs: Buffer, algorithm: SignatureAlgorithm, key: KeyObject): Promise<Buffer> => {
  const sig = await signAsync(algorithm, tbs, key);
  return sequence([tbs, signatureAlgorithmIdentifier(algorithm), bitString(sig)]);
};
