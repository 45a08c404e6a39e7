import { z } from "zod";
import { createHttpTransport } from "./http.js";
import type { HttpOptions } from "./http.js";
import { CertRecord, IssueCertificateResponse, Project } from "./types.js";
import type { IssueCertificateRequest } from "./types.js";

/**
 * Typed client for the administrative PKI routes (api.md 7.2-7.8) that `kms pki` uses. The transport and its
 * errors are the agent client's (http.ts, errors.ts); this file only names the routes and the fields the CLI
 * reads. Response schemas are loose: unknown fields pass through, so `--output json` shows all of them.
 */

export const CaObject = z.looseObject({
  id: z.string(),
  projectId: z.string(),
  name: z.string(),
  type: z.string(),
  status: z.string(),
  configuration: z.looseObject({
    type: z.string(),
    commonName: z.string().nullish(),
    dn: z.string().nullish(),
    keyAlgorithm: z.string().nullish(),
    notBefore: z.string().nullish(),
    notAfter: z.string().nullish(),
    maxPathLength: z.number().nullish(),
    parentCaId: z.string().nullish(),
    serialNumber: z.string().nullish(),
    activeCaCertId: z.string().nullish(),
  }),
});
export type CaObject = z.infer<typeof CaObject>;

export const CaCertificate = z.looseObject({ certificate: z.string(), certificateChain: z.string().nullish(), serialNumber: z.string() });
export type CaCertificate = z.infer<typeof CaCertificate>;

const Rule = z.looseObject({ allowed: z.array(z.string()).optional(), required: z.array(z.string()).optional(), denied: z.array(z.string()).optional() });
export const PolicyObject = z.looseObject({
  id: z.string(),
  projectId: z.string(),
  name: z.string(),
  description: z.string().nullish(),
  subject: z.array(Rule.extend({ type: z.string() })).optional(),
  sans: z.array(Rule.extend({ type: z.string() })).optional(),
  keyUsages: Rule.optional(),
  extendedKeyUsages: Rule.optional(),
  algorithms: z.looseObject({ signature: z.array(z.string()).optional(), keyAlgorithm: z.array(z.string()).optional() }).optional(),
  validity: z.looseObject({ max: z.string().optional() }).optional(),
});
export type PolicyObject = z.infer<typeof PolicyObject>;

export const ProfileObject = z.looseObject({
  id: z.string(),
  projectId: z.string(),
  slug: z.string(),
  caId: z.string().nullish(),
  certificatePolicyId: z.string(),
  description: z.string().nullish(),
  enrollmentType: z.string(),
  issuerType: z.string(),
  defaults: z.record(z.string(), z.unknown()).nullish(),
});
export type ProfileObject = z.infer<typeof ProfileObject>;

export const CertificateRecord = CertRecord.extend({
  altNames: z.string().nullish(),
  caId: z.string().nullish(),
  keyAlgorithm: z.string().nullish(),
  signatureAlgorithm: z.string().nullish(),
  keyUsages: z.array(z.string()).optional(),
  extendedKeyUsages: z.array(z.string()).optional(),
  revocationReason: z.number().nullish(),
  fingerprints: z.looseObject({ sha256: z.string().optional() }).nullish(),
});
export type CertificateRecord = z.infer<typeof CertificateRecord>;

export const RevokeResponse = z.looseObject({ message: z.string(), serialNumber: z.string(), revokedAt: z.string() });
export type RevokeResponse = z.infer<typeof RevokeResponse>;
export const RevokeCaResponse = z.looseObject({ message: z.string(), caId: z.string(), revokedAt: z.string(), serialNumbers: z.array(z.string()), disabledCaIds: z.array(z.string()) });

export interface CreateCaBody {
  projectId: string;
  name: string;
  status: "active" | "disabled";
  configuration: {
    type: "root" | "intermediate"; commonName: string; organization: string; ou: string; country: string; province: string; locality: string;
    keyAlgorithm: string; notAfter?: string; maxPathLength?: number; parentCaId?: string;
  };
}

export interface ListCertificatesQuery {
  projectId: string;
  status?: string;
  commonName?: string;
  expiringBefore?: string;
  offset?: number;
  limit?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const looksLikeId = (s: string): boolean => UUID.test(s);

export const createAdminClient = (opts: HttpOptions & { token: string }) => {
  const http = createHttpTransport(opts);
  const token = opts.token;
  const seg = encodeURIComponent;
  const CA = "/api/v1/cert-manager/ca/internal";
  const POLICIES = "/api/v1/cert-manager/certificate-policies";
  const PROFILES = "/api/v1/cert-manager/certificate-profiles";
  const CERTS = "/api/v1/cert-manager/certificates";
  const get = async <S extends z.ZodType>(path: string, schema: S, query?: Record<string, string | number | undefined>) =>
    (await http.call({ method: "GET", path, query, schema, token })).body;
  const post = async <S extends z.ZodType>(path: string, body: unknown, schema: S) => (await http.call({ method: "POST", path, body, schema, token })).body;

  /** A project by id or slug (api.md 3.0: the slug route answers the bare project, the id route wraps it). */
  const getProject = async (ref: string) =>
    looksLikeId(ref)
      ? (await get(`/api/v1/projects/${seg(ref)}`, z.looseObject({ project: Project }))).project
      : await get(`/api/v1/projects/slug/${seg(ref)}`, Project);

  return {
    getProject,
    createCa: (body: CreateCaBody) => post(CA, body, CaObject),
    listCas: (projectId: string) => get(CA, z.array(CaObject), { projectId }),
    getCa: (id: string) => get(`${CA}/${seg(id)}`, CaObject),
    getCaCertificate: (id: string) => get(`${CA}/${seg(id)}/certificate`, CaCertificate),
    renewCa: (id: string, notAfter: string) => post(`${CA}/${seg(id)}/renew`, { type: "existing", notAfter }, CaCertificate),
    revokeCa: (id: string, revocationReason: string) => post(`${CA}/${seg(id)}/revoke`, { revocationReason }, RevokeCaResponse),

    createPolicy: async (body: Record<string, unknown>) => (await post(POLICIES, body, z.looseObject({ certificatePolicy: PolicyObject }))).certificatePolicy,
    listPolicies: (projectId: string, q: { search?: string; offset?: number; limit?: number } = {}) =>
      get(POLICIES, z.looseObject({ certificatePolicies: z.array(PolicyObject), totalCount: z.number() }), { projectId, ...q }),
    getPolicy: async (id: string) => (await get(`${POLICIES}/${seg(id)}`, z.looseObject({ certificatePolicy: PolicyObject }))).certificatePolicy,

    createProfile: async (body: Record<string, unknown>) => (await post(PROFILES, body, z.looseObject({ certificateProfile: ProfileObject }))).certificateProfile,
    listProfiles: (projectId: string, q: { offset?: number; limit?: number } = {}) =>
      get(PROFILES, z.looseObject({ certificateProfiles: z.array(ProfileObject), totalCount: z.number() }), { projectId, ...q }),
    getProfile: async (id: string) => (await get(`${PROFILES}/${seg(id)}`, z.looseObject({ certificateProfile: ProfileObject }))).certificateProfile,
    getProfileBySlug: async (slug: string, projectId?: string) =>
      (await get(`${PROFILES}/slug/${seg(slug)}`, z.looseObject({ certificateProfile: ProfileObject }), { projectId })).certificateProfile,

    issueCertificate: (body: IssueCertificateRequest) => post(CERTS, body, IssueCertificateResponse),
    getCertificate: async (id: string) => (await get(`${CERTS}/${seg(id)}`, z.looseObject({ certificate: CertificateRecord }))).certificate,
    getCertificatePem: (id: string) => get(`${CERTS}/${seg(id)}/certificate`, CaCertificate),
    revokeCertificate: (id: string, revocationReason: string) => post(`${CERTS}/${seg(id)}/revoke`, { revocationReason }, RevokeResponse),
    listCertificates: ({ projectId, ...q }: ListCertificatesQuery) =>
      get(CERTS, z.looseObject({ certificates: z.array(CertificateRecord), totalCount: z.number() }), { projectId, ...q }),

    close: http.close,
  };
};
export type AdminClient = ReturnType<typeof createAdminClient>;
