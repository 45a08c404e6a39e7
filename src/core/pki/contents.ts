/**
 * CertificateContents: everything that will be in a certificate, fully resolved (profile defaults, request
 * attributes and CSR merged). checkPolicy() judges this object and issueLeaf() signs it, so nothing can be in
 * the certificate that the policy did not see.
 */
import type { KeyAlgorithm } from "../../crypto/keys.js";
import type { ExtendedKeyUsage, KeyUsage, SignatureAlgorithm } from "./algorithms.js";
import type { ParsedCsr } from "./csr.js";
import type { LeafRequest } from "./issue.js";
import type { SubjectFields } from "./name.js";
import type { SubjectAltName } from "./san.js";
import { TLS_FEATURES } from "./extensions.js";

export interface CertificateContents extends LeafRequest {
  readonly subject: SubjectFields;
  readonly sans: readonly SubjectAltName[];
  readonly keyUsages: readonly KeyUsage[];
  readonly extendedKeyUsages: readonly ExtendedKeyUsage[];
  /** Undefined for a key outside api.md's six (from a CSR): always a violation; see keyDescription. */
  readonly keyAlgorithm: KeyAlgorithm | undefined;
  readonly keyDescription?: string;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly notBefore: Date | number;
  readonly notAfter: Date | number;
  readonly isCA: boolean;
  /** Things a CSR asked for that no policy rule can permit (emailAddress in the subject, otherName SANs, unknown EKU OIDs). */
  readonly unsupported?: ReadonlyArray<{ readonly field: string; readonly value: string }>;
}

export interface CsrResolution {
  readonly notBefore: Date | number;
  readonly notAfter: Date | number;
  readonly signatureAlgorithm: SignatureAlgorithm;
  /** From the request attributes or profile defaults; united with what the CSR itself requests. */
  readonly keyUsages?: readonly KeyUsage[];
  readonly extendedKeyUsages?: readonly ExtendedKeyUsage[];
}

const union = <T>(a: readonly T[] = [], b: readonly T[] = []): T[] => [...new Set([...a, ...b])];

/**
 * Contents for a CSR-based issuance (api.md 7.6): subject, SANs and key come from the CSR. Usages are the
 * union of the caller's and the CSR's requested ones, and a requested CA:true is carried over, so a CSR's
 * extras are judged by the policy (and refused when not permitted), never silently granted or dropped.
 * The result includes `publicKey`, ready for issueLeaf() once checkPolicy() passed.
 */
export const contentsFromCsr = (csr: ParsedCsr, r: CsrResolution): CertificateContents & { publicKey: Buffer } => {
  const unsupported = [
    ...csr.otherSubjectAttributes.map((a) => ({ field: "subject", value: `${a.shortName}=${a.value}` })),
    ...csr.unsupportedSans.map((kind) => ({ field: "sans", value: kind })),
    ...csr.unknownExtendedKeyUsages.map((o) => ({ field: "extendedKeyUsages", value: o })),
    ...(csr.tlsFeatures ?? []).filter((f) => !TLS_FEATURES.has(f)).map((f) => ({ field: "tlsFeature", value: String(f) })),
  ];
  return {
    subject: csr.subject,
    sans: csr.sans,
    keyUsages: union(r.keyUsages, csr.keyUsages),
    extendedKeyUsages: union(r.extendedKeyUsages, csr.extendedKeyUsages),
    keyAlgorithm: csr.keyAlgorithm,
    keyDescription: csr.keyDescription,
    signatureAlgorithm: r.signatureAlgorithm,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    isCA: csr.basicConstraints?.isCA ?? false,
    // OCSP must-staple: a promise of the server's, granting nothing; carried so the certificate keeps it.
    ...(csr.tlsFeatures?.length && { tlsFeatures: [...new Set(csr.tlsFeatures)] }),
    ...(unsupported.length && { unsupported }),
    publicKey: csr.spkiDer,
  };
};
