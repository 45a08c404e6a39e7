/**
 * Leaf issuance, the hot path: a TBSCertificate written directly in DER from pre-encoded per-CA parts
 * (IssuerContext), signed on the thread pool. Always CA:false. No policy here: the caller checks the same
 * request object with checkPolicy() first (policy.ts), so what was checked is exactly what is signed.
 *
 * Validity: notAfter past the issuing CA's notAfter is REFUSED (BadRequestError), not clamped, so a client
 * never receives a shorter certificate than it asked for without being told. Times are truncated to whole
 * seconds (X.509 has no fractions).
 */
import { createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { generateKeyPair } from "../../crypto/keys.js";
import type { GeneratedKeyPair, KeyAlgorithm } from "../../crypto/keys.js";
import { DerError } from "../../crypto/der/reader.js";
import { truncateToSeconds } from "../../crypto/der/time.js";
import { BadRequestError } from "../errors.js";
import { EXTENDED_KEY_USAGES, KEY_USAGES, assertSignatureCompatible, defaultSignatureAlgorithm } from "./algorithms.js";
import type { ExtendedKeyUsage, KeyUsage, SignatureAlgorithm } from "./algorithms.js";
import {
  LEAF_BASIC_CONSTRAINTS, authorityKeyIdentifierExtension, extKeyUsageExtension, keyUsageExtension, subjectAltNameExtension, subjectKeyIdentifierExtension, tlsFeatureExtension,
} from "./extensions.js";
import type { IssuerContext } from "./issuer.js";
import { encodeName, presentFields } from "./name.js";
import type { SubjectFields } from "./name.js";
import { canonicalSan } from "./san.js";
import type { SubjectAltName } from "./san.js";
import { randomSerial } from "./serial.js";
import { spkiInfo } from "./spki.js";
import type { SpkiInfo } from "./spki.js";
import { signCertificate } from "./tbs.js";
import type { IssuedCertificate } from "./tbs.js";

export type { IssuedCertificate };

/** What goes into a leaf certificate. The same shape (plus key facts) is what checkPolicy() judges. */
export interface LeafRequest {
  readonly subject: SubjectFields;
  readonly sans?: readonly SubjectAltName[];
  readonly keyUsages?: readonly KeyUsage[];
  readonly extendedKeyUsages?: readonly ExtendedKeyUsage[];
  readonly notBefore: Date | number;
  readonly notAfter: Date | number;
  /** Default: the issuer key's default (RSA → RSA-SHA256, P-256/384/521 → ECDSA-SHA256/384/512). */
  readonly signatureAlgorithm?: SignatureAlgorithm;
  /** Present so a resolved request can be passed as is; true is always refused here. */
  readonly isCA?: boolean;
  /** TLS Feature values to carry (a CSR's must-staple request). */
  readonly tlsFeatures?: readonly number[];
}

export interface LeafIssueRequest extends LeafRequest {
  /** The subject's public key: SubjectPublicKeyInfo DER (from a CSR or generateKeyPair) or a KeyObject. */
  readonly publicKey: Uint8Array | KeyObject;
}

export const issueLeaf = async (issuer: IssuerContext, req: LeafIssueRequest): Promise<IssuedCertificate> => {
  assertLeaf(req);
  const signatureAlgorithm = req.signatureAlgorithm ?? issuer.defaultSignatureAlgorithm;
  assertSignatureCompatible(signatureAlgorithm, issuer.keyAlgorithm);
  const { notBefore, notAfter } = checkValidity(req.notBefore, req.notAfter);
  if (notAfter > issuer.notAfter.getTime()) {
    throw new BadRequestError(
      `notAfter: ${new Date(notAfter).toISOString()} is after the issuing CA's notAfter ${issuer.notAfter.toISOString()}; request a shorter validity`,
    );
  }
  const spkiDer = spkiOf(req.publicKey);
  const key = subjectKeyInfo(spkiDer);
  const sans = uniqueSans(req.sans ?? []);
  const subjectDer = encodeName(req.subject);
  const subjectEmpty = presentFields(req.subject).length === 0;
  if (subjectEmpty && sans.length === 0) throw new BadRequestError("subject: a certificate needs a subject or at least one SAN");
  return signCertificate(
    {
      serial: randomSerial(),
      signatureAlgorithm,
      issuerDer: issuer.subjectDer,
      notBefore,
      notAfter,
      subjectDer,
      spkiDer,
      extensions: leafExtensions(req, sans, subjectEmpty, key.keyId, issuer.issuedExtensions),
    },
    issuer.privateKey,
  );
};

export interface SelfSignedRequest extends LeafRequest {
  readonly keyAlgorithm: KeyAlgorithm;
  /** A key pair of `keyAlgorithm` to use; one is generated when absent. */
  readonly keyPair?: GeneratedKeyPair;
}

/**
 * The `self-signed` issuer type: a leaf (CA:false) signed by its own key, issuer = subject, AKI = SKI, no
 * CRL/AIA (there is no CA to ask). Needs a non-empty subject, since the issuer Name must not be empty.
 */
export const issueSelfSigned = async (req: SelfSignedRequest): Promise<{ certificate: IssuedCertificate; keyPair: GeneratedKeyPair }> => {
  assertLeaf(req);
  if (req.keyPair && req.keyPair.algorithm !== req.keyAlgorithm) {
    throw new BadRequestError(`keyAlgorithm: the supplied key pair is ${req.keyPair.algorithm}, not ${req.keyAlgorithm}`);
  }
  const signatureAlgorithm = req.signatureAlgorithm ?? defaultSignatureAlgorithm(req.keyAlgorithm);
  assertSignatureCompatible(signatureAlgorithm, req.keyAlgorithm);
  const { notBefore, notAfter } = checkValidity(req.notBefore, req.notAfter);
  if (presentFields(req.subject).length === 0) throw new BadRequestError("subject: a self-signed certificate needs a subject (it is also the issuer name)");
  const subjectDer = encodeName(req.subject);
  const sans = uniqueSans(req.sans ?? []);
  const keyPair = req.keyPair ?? (await generateKeyPair(req.keyAlgorithm));
  const { keyId } = subjectKeyInfo(keyPair.spkiDer);
  const certificate = await signCertificate(
    {
      serial: randomSerial(),
      signatureAlgorithm,
      issuerDer: subjectDer,
      notBefore,
      notAfter,
      subjectDer,
      spkiDer: keyPair.spkiDer,
      extensions: leafExtensions(req, sans, false, keyId, [authorityKeyIdentifierExtension(keyId)]),
    },
    keyPair.privateKey,
  );
  return { certificate, keyPair };
};

/** RFC 5280 4.2.1.3: keyCertSign only with cA true, so a leaf asking for it is refused whatever the policy says. */
const assertLeaf = (req: LeafRequest): void => {
  if (req.isCA) throw new BadRequestError("basicConstraints.isCA: leaf issuance never creates a CA certificate");
  if (req.keyUsages?.includes("key_cert_sign")) throw new BadRequestError("keyUsages: key_cert_sign is only valid in a CA certificate");
};

/** notBefore < notAfter after truncation to seconds; returns the truncated milliseconds. */
export const checkValidity = (nb: Date | number, na: Date | number): { notBefore: number; notAfter: number } => {
  const notBefore = truncateToSeconds(typeof nb === "number" ? nb : nb.getTime());
  const notAfter = truncateToSeconds(typeof na === "number" ? na : na.getTime());
  if (!Number.isFinite(notBefore)) throw new BadRequestError("notBefore: invalid date");
  if (!Number.isFinite(notAfter)) throw new BadRequestError("notAfter: invalid date");
  if (notAfter <= notBefore) throw new BadRequestError(`notAfter: ${new Date(notAfter).toISOString()} is not after notBefore ${new Date(notBefore).toISOString()}`);
  return { notBefore, notAfter };
};

export const spkiOf = (publicKey: Uint8Array | KeyObject): Buffer => {
  if (publicKey instanceof Uint8Array) return Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length);
  return (publicKey.type === "private" ? createPublicKey(publicKey) : publicKey).export({ type: "spki", format: "der" });
};

const subjectKeyInfo = (spkiDer: Buffer): SpkiInfo => {
  let info: SpkiInfo;
  try {
    info = spkiInfo(spkiDer);
  } catch (e) {
    if (e instanceof DerError) throw new BadRequestError(`publicKey: malformed SubjectPublicKeyInfo (${e.message})`);
    throw e;
  }
  if (!info.keyAlgorithm) throw new BadRequestError(`publicKey: unsupported key ${info.description} (supported: RSA 2048/3072/4096, EC P-256/P-384/P-521)`);
  return info;
};

const uniqueSans = (sans: readonly SubjectAltName[]): SubjectAltName[] => {
  const seen = new Set<string>();
  const out: SubjectAltName[] = [];
  for (const s of sans) {
    const c = canonicalSan(s);
    const k = `${c.type}\0${c.value}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(c);
    }
  }
  return out;
};

// KeyUsage and EKU extensions repeat across requests (a profile asks for the same few): encode each set once.
const kuCache = new Map<string, Buffer>();
const ekuCache = new Map<string, Buffer>();
const cached = <T extends string>(cache: Map<string, Buffer>, order: readonly T[], list: readonly T[], encode: (l: T[]) => Buffer): Buffer => {
  const sorted = order.filter((x) => list.includes(x));
  const k = sorted.join(",");
  let b = cache.get(k);
  if (!b) {
    b = encode(sorted);
    if (cache.size < 1024) cache.set(k, b);
  }
  return b;
};

const leafExtensions = (
  req: LeafRequest, sans: readonly SubjectAltName[], subjectEmpty: boolean, keyId: Buffer, issued: readonly Buffer[],
): Buffer[] => {
  const exts = [LEAF_BASIC_CONSTRAINTS];
  if (req.keyUsages?.length) exts.push(cached(kuCache, KEY_USAGES, req.keyUsages, keyUsageExtension));
  if (req.extendedKeyUsages?.length) exts.push(cached(ekuCache, EXTENDED_KEY_USAGES, req.extendedKeyUsages, extKeyUsageExtension));
  exts.push(subjectKeyIdentifierExtension(keyId));
  if (sans.length) exts.push(subjectAltNameExtension(sans, subjectEmpty));
  if (req.tlsFeatures?.length) exts.push(tlsFeatureExtension(req.tlsFeatures));
  exts.push(...issued);
  return exts;
};
