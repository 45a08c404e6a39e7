import { z } from "zod";

/**
 * Wire shapes of the routes the agents call, exactly as api.md writes them. Response schemas are loose
 * (unknown fields pass through) and require only what a caller reads, so a newer server still works.
 */

// api.md 2.4 / 2.5
export const TokenResponse = z.looseObject({
  accessToken: z.string().min(1),
  expiresIn: z.number(),
  accessTokenMaxTTL: z.number(),
  tokenType: z.string().optional(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

// api.md 3.0 (the slug route answers with the bare project)
export const Project = z.looseObject({
  id: z.string(),
  slug: z.string(),
  name: z.string().optional(),
  orgId: z.string().optional(),
  type: z.string().optional(),
});
export type Project = z.infer<typeof Project>;

// api.md 7.5
export const CertificateProfile = z.looseObject({
  id: z.string(),
  slug: z.string().optional(),
  projectId: z.string().optional(),
  caId: z.string().nullish(),
  enrollmentType: z.string().optional(),
  issuerType: z.string().optional(),
});
export type CertificateProfile = z.infer<typeof CertificateProfile>;
export const ProfileResponse = z.looseObject({ certificateProfile: CertificateProfile });

// api.md 7.1
export const KEY_ALGORITHMS = ["RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
export const SIGNATURE_ALGORITHMS = ["RSA-SHA256", "RSA-SHA384", "RSA-SHA512", "ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512"] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];
export type SanType = "dns_name" | "ip_address" | "email" | "uri";

// api.md 7.6
export interface IssueCertificateAttributes {
  commonName?: string | null;
  organization?: string | null;
  organizationalUnit?: string | null;
  country?: string | null;
  state?: string | null;
  locality?: string | null;
  altNames?: { type: SanType; value: string }[];
  keyUsages?: string[];
  extendedKeyUsages?: string[];
  keyAlgorithm?: string;
  signatureAlgorithm?: string;
  ttl?: string;
  notBefore?: string;
  notAfter?: string;
  basicConstraints?: { isCA: boolean; pathLength?: number };
}
export interface IssueCertificateRequest {
  profileId: string;
  csr?: string;
  attributes?: IssueCertificateAttributes;
  removeRootsFromChain?: boolean;
}

export const IssuedCertificate = z.looseObject({
  certificate: z.string(),
  issuingCaCertificate: z.string().nullish(),
  certificateChain: z.string().nullish(),
  privateKey: z.string().nullish(),
  serialNumber: z.string(),
  certificateId: z.string(),
});
export type IssuedCertificate = z.infer<typeof IssuedCertificate>;

export const IssueCertificateResponse = z.looseObject({
  certificate: IssuedCertificate.nullable(),
  certificateRequestId: z.string().nullish(),
  status: z.string().optional(),
  message: z.string().optional(),
});
export type IssueCertificateResponse = z.infer<typeof IssueCertificateResponse>;

// api.md 7.7
export const CertificateRequestStatus = z.looseObject({
  status: z.string(),
  certificate: z.string().nullish(),
  certificateId: z.string().nullish(),
  privateKey: z.string().nullish(),
  serialNumber: z.string().nullish(),
  errorMessage: z.string().nullish(),
  certificateChain: z.string().nullish(),
  issuingCaCertificate: z.string().nullish(),
});
export type CertificateRequestStatus = z.infer<typeof CertificateRequestStatus>;

// api.md 7.8
export const CertRecord = z.looseObject({
  id: z.string(),
  status: z.string(),
  serialNumber: z.string(),
  commonName: z.string().nullish(),
  notAfter: z.string(),
  notBefore: z.string().optional(),
  profileId: z.string().nullish(),
  projectId: z.string().optional(),
  revokedAt: z.string().nullish(),
});
export type CertRecord = z.infer<typeof CertRecord>;
export const CertRecordResponse = z.looseObject({ certificate: CertRecord });

export const CertificateBundle = z.looseObject({
  certificate: z.string(),
  certificateChain: z.string().nullish(),
  privateKey: z.string().nullish(),
  serialNumber: z.string(),
});
export type CertificateBundle = z.infer<typeof CertificateBundle>;

export const RenewCertificateResponse = z.looseObject({
  certificate: z.string().nullish(),
  issuingCaCertificate: z.string().nullish(),
  certificateChain: z.string().nullish(),
  privateKey: z.string().nullish(),
  serialNumber: z.string().nullish(),
  certificateId: z.string().nullish(),
  certificateRequestId: z.string().nullish(),
});
export type RenewCertificateResponse = z.infer<typeof RenewCertificateResponse>;

// api.md 4.1 / 4.3
export const Secret = z.looseObject({
  id: z.string().optional(),
  _id: z.string().optional(),
  secretKey: z.string(),
  secretValue: z.string(),
  secretPath: z.string().optional(),
  type: z.string().optional(),
  version: z.number().optional(),
  secretComment: z.string().nullish(),
  workspace: z.string().optional(),
  environment: z.string().optional(),
});
export type Secret = z.infer<typeof Secret>;

export const SecretImport = z.looseObject({
  secretPath: z.string(),
  environment: z.string(),
  folderId: z.string().nullish(),
  secrets: z.array(Secret),
});
export const ListSecretsResponse = z.looseObject({
  secrets: z.array(Secret),
  imports: z.array(SecretImport).optional(),
});
export type ListSecretsResponse = z.infer<typeof ListSecretsResponse>;
export const GetSecretResponse = z.looseObject({ secret: Secret });
export type GetSecretResponse = z.infer<typeof GetSecretResponse>;

export interface ListSecretsQuery {
  projectId: string;
  environment: string;
  secretPath?: string;
  expandSecretReferences?: boolean;
  includeImports?: boolean;
  recursive?: boolean;
  includePersonalOverrides?: boolean;
  viewSecretValue?: boolean;
  tagSlugs?: string;
}
export interface GetSecretQuery {
  projectId: string;
  environment: string;
  secretName: string;
  secretPath?: string;
  type?: "shared" | "personal";
  version?: number;
  expandSecretReferences?: boolean;
  includeImports?: boolean;
}

/** A GET whose ETag the caller keeps: the secrets agent re-renders only when it changes (api.md 0.2). */
export interface WithEtag<T> {
  body: T;
  etag: string | undefined;
}

// api.md 5.1 / 5.4: leases as the agent reads them (credentials come only with creation).
export const LeaseRecord = z.looseObject({
  id: z.string(),
  expireAt: z.string(),
  createdAt: z.string().optional(),
  externalEntityId: z.string().optional(),
});
export type LeaseRecord = z.infer<typeof LeaseRecord>;
export const DynamicSecretRef = z.looseObject({
  name: z.string().optional(),
  defaultTTL: z.string().nullish(),
  maxTTL: z.string().nullish(),
});
export const CreateLeaseResponse = z.looseObject({
  lease: LeaseRecord,
  dynamicSecret: DynamicSecretRef.optional(),
  data: z.record(z.string(), z.unknown()),
});
export type CreateLeaseResponse = z.infer<typeof CreateLeaseResponse>;
export const LeaseResponse = z.looseObject({ lease: LeaseRecord, dynamicSecret: DynamicSecretRef.optional() });
export type LeaseResponse = z.infer<typeof LeaseResponse>;

/** The folder a dynamic secret lives in, by slugs (api.md 5: every dynamic-secret route names it so). */
export interface DynamicSecretFolder {
  projectSlug: string;
  environmentSlug: string;
  path: string;
}
export interface CreateLeaseRequest extends DynamicSecretFolder {
  dynamicSecretName: string;
  ttl?: string;
  config?: unknown;
}

