/**
 * Root and intermediate CA certificates, built with the same DER path as leaves (tbs.ts) rather than
 * @peculiar/x509: one encoder for everything we sign, KeyObjects throughout (WebCrypto binds the hash to an
 * RSA key, so each signature hash would need another key import), and openssl verifies the result in tests.
 *
 * CA extensions: BasicConstraints CA:true (critical, pathLen unless unlimited), KeyUsage keyCertSign + cRLSign
 * + digitalSignature (critical; digitalSignature because our CAs sign their OCSP responses themselves,
 * RFC 6960 2.6), SKI, AKI (= SKI for a root), and for intermediates the parent's CRL DP and AIA.
 */
import type { KeyObject } from "node:crypto";
import { generateKeyPair } from "../../crypto/keys.js";
import type { GeneratedKeyPair, KeyAlgorithm } from "../../crypto/keys.js";
import { sequence, integer, implicitConstructed } from "../../crypto/der/writer.js";
import { toPem } from "../../crypto/der/pem.js";
import { BadRequestError } from "../errors.js";
import { assertSignatureCompatible, defaultSignatureAlgorithm } from "./algorithms.js";
import type { KeyUsage, SignatureAlgorithm } from "./algorithms.js";
import { parseAndVerifyCsr } from "./csr.js";
import {
  authorityKeyIdentifierExtension, basicConstraintsExtension, keyUsageExtension, subjectKeyIdentifierExtension,
} from "./extensions.js";
import { checkValidity } from "./issue.js";
import type { IssuerContext } from "./issuer.js";
import { encodeName, presentFields } from "./name.js";
import type { SubjectFields } from "./name.js";
import { randomSerial } from "./serial.js";
import { signEnvelope } from "./sign.js";
import { spkiInfo } from "./spki.js";
import { signCertificate } from "./tbs.js";
import type { IssuedCertificate } from "./tbs.js";

const CA_KEY_USAGES: readonly KeyUsage[] = ["digital_signature", "key_cert_sign", "crl_sign"];

export interface CaOptions {
  readonly subject: SubjectFields;
  readonly notBefore: Date | number;
  readonly notAfter: Date | number;
  /** -1 or undefined = unlimited (no pathLenConstraint), api.md 7.2. */
  readonly maxPathLength?: number | null;
  /** Default: SHA-256 for RSA, the curve's matching hash for EC. */
  readonly signatureAlgorithm?: SignatureAlgorithm;
}

export interface CreatedCa {
  readonly certificate: IssuedCertificate;
  readonly keyPair: GeneratedKeyPair;
}

const pathLengthOf = (maxPathLength: number | null | undefined, field = "maxPathLength"): number | undefined => {
  if (maxPathLength === undefined || maxPathLength === null || maxPathLength === -1) return undefined;
  if (!Number.isInteger(maxPathLength) || maxPathLength < -1) throw new BadRequestError(`${field}: must be an integer ≥ -1 (-1 = unlimited)`);
  return maxPathLength;
};

const requireSubject = (s: SubjectFields): void => {
  if (presentFields(s).length === 0) throw new BadRequestError("subject: a CA needs at least one subject field");
};

const caExtensions = (pathLength: number | undefined, keyId: Buffer, issued: readonly Buffer[]): Buffer[] => [
  basicConstraintsExtension(true, pathLength),
  keyUsageExtension(CA_KEY_USAGES),
  subjectKeyIdentifierExtension(keyId),
  ...issued,
];

/** A self-signed root CA; the key pair is generated (thread pool) unless given. */
export const createRootCa = async (opts: CaOptions & { keyAlgorithm: KeyAlgorithm; keyPair?: GeneratedKeyPair }): Promise<CreatedCa> => {
  requireSubject(opts.subject);
  if (opts.keyPair && opts.keyPair.algorithm !== opts.keyAlgorithm) {
    throw new BadRequestError(`keyAlgorithm: the supplied key pair is ${opts.keyPair.algorithm}, not ${opts.keyAlgorithm}`);
  }
  const signatureAlgorithm = opts.signatureAlgorithm ?? defaultSignatureAlgorithm(opts.keyAlgorithm);
  assertSignatureCompatible(signatureAlgorithm, opts.keyAlgorithm);
  const { notBefore, notAfter } = checkValidity(opts.notBefore, opts.notAfter);
  const pathLength = pathLengthOf(opts.maxPathLength);
  const subjectDer = encodeName(opts.subject);
  const keyPair = opts.keyPair ?? (await generateKeyPair(opts.keyAlgorithm));
  const { keyId } = spkiInfo(keyPair.spkiDer);
  const certificate = await signCertificate(
    {
      serial: randomSerial(), signatureAlgorithm, issuerDer: subjectDer, notBefore, notAfter, subjectDer, spkiDer: keyPair.spkiDer,
      extensions: caExtensions(pathLength, keyId, [authorityKeyIdentifierExtension(keyId)]),
    },
    keyPair.privateKey,
  );
  return { certificate, keyPair };
};

/**
 * The PKCS#10 request of an intermediate CA (api.md 7.2 `GET /:caId/csr`): subject and key only; the parent
 * decides the CA extensions when it signs.
 */
export const createCaCsr = async (opts: { subject: SubjectFields; privateKey: KeyObject; spkiDer: Buffer; keyAlgorithm: KeyAlgorithm; signatureAlgorithm?: SignatureAlgorithm }): Promise<{ der: Buffer; pem: string }> => {
  requireSubject(opts.subject);
  const signatureAlgorithm = opts.signatureAlgorithm ?? defaultSignatureAlgorithm(opts.keyAlgorithm);
  assertSignatureCompatible(signatureAlgorithm, opts.keyAlgorithm);
  // attributes [0] IMPLICIT SET OF Attribute: present but empty (RFC 2986 makes the field mandatory).
  const cri = sequence([integer(0), encodeName(opts.subject), opts.spkiDer, implicitConstructed(0, [])]);
  const der = await signEnvelope(cri, signatureAlgorithm, opts.privateKey);
  return { der, pem: toPem("CERTIFICATE REQUEST", der) };
};

export interface SignIntermediateOptions {
  /** PEM or DER PKCS#10; its signature is verified and only its subject and key are used. */
  readonly csr: string | Uint8Array;
  readonly notBefore: Date | number;
  readonly notAfter: Date | number;
  /** -1 / undefined = unlimited, or under a parent with pathLen p: p - 1 (the most it can have). */
  readonly maxPathLength?: number | null;
  readonly signatureAlgorithm?: SignatureAlgorithm;
}

/**
 * `POST /:caId/sign-intermediate`: the parent signs a CA certificate for the CSR's subject and key.
 * Refused: a parent with pathLen 0, a maxPathLength beyond the parent's, a notAfter past the parent's
 * (refused, not clamped, as for leaves), a key outside api.md's six algorithms.
 */
export const signIntermediate = async (parent: IssuerContext, opts: SignIntermediateOptions): Promise<IssuedCertificate & { subject: SubjectFields; keyAlgorithm: KeyAlgorithm }> => {
  const csr = await parseAndVerifyCsr(opts.csr);
  if (!csr.keyAlgorithm) throw new BadRequestError(`csr: unsupported CA key ${csr.keyDescription}`);
  requireSubject(csr.subject);
  if (parent.pathLength === 0) throw new BadRequestError("parent CA: its pathLenConstraint is 0, so it cannot sign another CA");
  let pathLength = pathLengthOf(opts.maxPathLength);
  if (parent.pathLength !== undefined) {
    const most = parent.pathLength - 1;
    if (pathLength === undefined) pathLength = most;
    else if (pathLength > most) throw new BadRequestError(`maxPathLength: ${pathLength} exceeds what the parent CA allows (${most})`);
  }
  const signatureAlgorithm = opts.signatureAlgorithm ?? parent.defaultSignatureAlgorithm;
  assertSignatureCompatible(signatureAlgorithm, parent.keyAlgorithm);
  const { notBefore, notAfter } = checkValidity(opts.notBefore, opts.notAfter);
  if (notAfter > parent.notAfter.getTime()) {
    throw new BadRequestError(`notAfter: ${new Date(notAfter).toISOString()} is after the parent CA's notAfter ${parent.notAfter.toISOString()}`);
  }
  const { keyId } = spkiInfo(csr.spkiDer);
  const issued = await signCertificate(
    {
      serial: randomSerial(), signatureAlgorithm, issuerDer: parent.subjectDer, notBefore, notAfter,
      subjectDer: encodeName(csr.subject), spkiDer: csr.spkiDer,
      extensions: caExtensions(pathLength, keyId, parent.issuedExtensions),
    },
    parent.privateKey,
  );
  return { ...issued, subject: csr.subject, keyAlgorithm: csr.keyAlgorithm };
};

/** Convenience for an intermediate whose parent is local: key pair, CSR, parent's signature in one call. */
export const createIntermediateCa = async (
  parent: IssuerContext,
  opts: CaOptions & { keyAlgorithm: KeyAlgorithm; keyPair?: GeneratedKeyPair; csrSignatureAlgorithm?: SignatureAlgorithm },
): Promise<CreatedCa> => {
  requireSubject(opts.subject);
  const keyPair = opts.keyPair ?? (await generateKeyPair(opts.keyAlgorithm));
  const csr = await createCaCsr({ subject: opts.subject, privateKey: keyPair.privateKey, spkiDer: keyPair.spkiDer, keyAlgorithm: keyPair.algorithm, ...(opts.csrSignatureAlgorithm && { signatureAlgorithm: opts.csrSignatureAlgorithm }) });
  const { subject: _s, keyAlgorithm: _k, ...certificate } = await signIntermediate(parent, {
    csr: csr.der, notBefore: opts.notBefore, notAfter: opts.notAfter,
    ...(opts.maxPathLength !== undefined && { maxPathLength: opts.maxPathLength }),
    ...(opts.signatureAlgorithm && { signatureAlgorithm: opts.signatureAlgorithm }),
  });
  return { certificate, keyPair };
};
