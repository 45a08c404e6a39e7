import { z } from "zod";
import { createHttpTransport } from "./http.js";
import type { CallOptions, HttpOptions } from "./http.js";
import {
  CreateLeaseResponse,
  LeaseResponse,
  CertificateBundle,
  CertificateRequestStatus,
  CertRecordResponse,
  GetSecretResponse,
  IssueCertificateResponse,
  ListSecretsResponse,
  Project,
  ProfileResponse,
  RenewCertificateResponse,
  TokenResponse,
} from "./types.js";
import type {
  CreateLeaseRequest,
  DynamicSecretFolder,
  CertRecord,
  CertificateProfile,
  GetSecretQuery,
  IssueCertificateRequest,
  ListSecretsQuery,
  WithEtag,
} from "./types.js";

/**
 * Typed client for the KMS routes the agents use (api.md 2.4, 2.5, 3.2, 4.3, 7.5-7.8). Each method is
 * one request; retries and token handling are the caller's (agent/retry.ts, agent/token.ts).
 */
export const createKmsClient = (opts: HttpOptions) => {
  const http = createHttpTransport(opts);
  const seg = encodeURIComponent;
  const CERTS = "/api/v1/cert-manager/certificates";

  const universalAuthLogin = async (creds: { clientId: string; clientSecret: string }, o: CallOptions = {}): Promise<TokenResponse> =>
    (await http.call({ method: "POST", path: "/api/v1/auth/universal-auth/login", body: creds, schema: TokenResponse, signal: o.signal })).body;

  // Workload identity logins (api.md 2.6 and issue 7): same answer as universal auth.
  const login = async (route: string, body: Record<string, unknown>, o: CallOptions = {}): Promise<TokenResponse> =>
    (await http.call({ method: "POST", path: `/api/v1/auth/${route}/login`, body, schema: TokenResponse, signal: o.signal })).body;
  const kubernetesAuthLogin = (b: { identityId: string; jwt: string }, o: CallOptions = {}) => login("kubernetes-auth", b, o);
  const awsIamAuthLogin = (b: AwsIamLoginBody, o: CallOptions = {}) => login("aws-auth", { ...b }, o);
  const gcpAuthLogin = (b: { identityId: string; jwt: string }, o: CallOptions = {}) => login("gcp-auth", b, o);
  const azureAuthLogin = (b: { identityId: string; jwt: string }, o: CallOptions = {}) => login("azure-auth", b, o);
  const serviceKeyLogin = (b: { jwt: string }, o: CallOptions = {}) => login("service-key", b, o);

  /** One request over its own connection that presents a client certificate (mTLS), then closes it. */
  const withClientCertificate = async <T>(tls: ClientTls, fn: (t: ReturnType<typeof createHttpTransport>) => Promise<T>): Promise<T> => {
    const t = createHttpTransport({ ...opts, tls: { ...opts.tls, cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}) } });
    try {
      return await fn(t);
    } finally {
      await t.close();
    }
  };
  const tlsCertAuthLogin = (b: { identityId: string }, tls: ClientTls, o: CallOptions = {}): Promise<TokenResponse> =>
    withClientCertificate(tls, async (t) => (await t.call({ method: "POST", path: "/api/v1/auth/tls-cert-auth/login", body: b, schema: TokenResponse, signal: o.signal })).body);

  // Service identity certificates (seed 004, `kms svccert`).
  const SVC = "/api/v1/auth/service-key";
  const serviceKeyCertificate = async (b: { jwt: string; csr: string; ttl?: string; profile?: string }, o: CallOptions = {}) =>
    (await http.call({ method: "POST", path: `${SVC}/certificate`, body: b, schema: ServiceCertificate, signal: o.signal })).body;
  const registerInstance = async (b: { token: string; instanceId: string; csr: string; ttl?: string; profile?: string }, o: CallOptions = {}) =>
    (await http.call({ method: "POST", path: `${SVC}/instance-register`, body: b, schema: ServiceCertificate, signal: o.signal })).body;
  const refreshServiceCertificate = (b: { csr: string; ttl?: string; project?: string }, tls: ClientTls, o: CallOptions = {}) =>
    withClientCertificate(tls, async (t) => (await t.call({ method: "POST", path: `${SVC}/refresh`, body: b, schema: ServiceCertificate, signal: o.signal })).body);
  const createInstanceRegisterToken = async (identityId: string, b: { instanceId: string; ttl?: number }, o: CallOptions) =>
    (await http.call({ method: "POST", path: `${SVC}/identities/${seg(identityId)}/instance-register-tokens`, body: b, schema: InstanceRegisterToken, ...o })).body;

  const renewToken = async (accessToken: string, o: CallOptions = {}): Promise<TokenResponse> =>
    (await http.call({ method: "POST", path: "/api/v1/auth/token/renew", body: { accessToken }, schema: TokenResponse, signal: o.signal })).body;

  const revokeToken = async (accessToken: string, o: CallOptions = {}): Promise<void> => {
    await http.call({ method: "POST", path: "/api/v1/auth/token/revoke", body: { accessToken }, schema: z.unknown(), signal: o.signal });
  };

  const getProjectBySlug = async (slug: string, o: CallOptions): Promise<Project> =>
    (await http.call({ method: "GET", path: `/api/v1/projects/slug/${seg(slug)}`, schema: Project, ...o })).body;

  const getProfileBySlug = async (slug: string, projectId: string | undefined, o: CallOptions): Promise<CertificateProfile> =>
    (await http.call({ method: "GET", path: `/api/v1/cert-manager/certificate-profiles/slug/${seg(slug)}`, query: { projectId }, schema: ProfileResponse, ...o }))
      .body.certificateProfile;

  const issueCertificate = async (req: IssueCertificateRequest, o: CallOptions): Promise<IssueCertificateResponse> =>
    (await http.call({ method: "POST", path: CERTS, body: req, schema: IssueCertificateResponse, ...o })).body;

  const getCertificate = async (id: string, o: CallOptions): Promise<CertRecord> =>
    (await http.call({ method: "GET", path: `${CERTS}/${seg(id)}`, schema: CertRecordResponse, ...o })).body.certificate;

  const getCertificateBundle = async (id: string, o: CallOptions): Promise<CertificateBundle> =>
    (await http.call({ method: "GET", path: `${CERTS}/${seg(id)}/bundle`, schema: CertificateBundle, ...o })).body;

  const getCertificateRequest = async (requestId: string, o: CallOptions): Promise<CertificateRequestStatus> =>
    (await http.call({ method: "GET", path: `${CERTS}/certificate-requests/${seg(requestId)}`, schema: CertificateRequestStatus, ...o })).body;

  const renewCertificate = async (id: string, body: { removeRootsFromChain?: boolean }, o: CallOptions): Promise<RenewCertificateResponse> =>
    (await http.call({ method: "POST", path: `${CERTS}/${seg(id)}/renew`, body, schema: RenewCertificateResponse, ...o })).body;

  const listSecretsV4 = async (q: ListSecretsQuery, o: CallOptions): Promise<WithEtag<ListSecretsResponse>> => {
    const r = await http.call({ method: "GET", path: "/api/v4/secrets", query: { ...q }, schema: ListSecretsResponse, ...o });
    return { body: r.body, etag: headerValue(r.headers.etag) };
  };

  const getSecretByNameV4 = async (q: GetSecretQuery, o: CallOptions): Promise<WithEtag<GetSecretResponse>> => {
    const { secretName, ...query } = q;
    const r = await http.call({ method: "GET", path: `/api/v4/secrets/${seg(secretName)}`, query, schema: GetSecretResponse, ...o });
    return { body: r.body, etag: headerValue(r.headers.etag) };
  };

  // api.md 5.4. The folder goes in the query of the GET as both `path` and `secretPath` (api.md 8 item 1).
  const LEASES = "/api/v1/dynamic-secrets/leases";
  const createLease = async (req: CreateLeaseRequest, o: CallOptions): Promise<CreateLeaseResponse> =>
    (await http.call({ method: "POST", path: LEASES, body: req, schema: CreateLeaseResponse, ...o })).body;

  const getLease = async (leaseId: string, f: DynamicSecretFolder, o: CallOptions): Promise<LeaseResponse> =>
    (await http.call({ method: "GET", path: `${LEASES}/${seg(leaseId)}`, query: { ...f, secretPath: f.path }, schema: LeaseResponse, ...o })).body;

  const renewLease = async (leaseId: string, body: DynamicSecretFolder & { ttl?: string }, o: CallOptions): Promise<LeaseResponse> =>
    (await http.call({ method: "POST", path: `${LEASES}/${seg(leaseId)}/renew`, body, schema: LeaseResponse, ...o })).body;

  const revokeLease = async (leaseId: string, body: DynamicSecretFolder & { isForced?: boolean }, o: CallOptions): Promise<LeaseResponse> =>
    (await http.call({ method: "DELETE", path: `${LEASES}/${seg(leaseId)}`, body, schema: LeaseResponse, ...o })).body;

  return {
    createLease,
    getLease,
    renewLease,
    revokeLease,
    universalAuthLogin,
    kubernetesAuthLogin,
    awsIamAuthLogin,
    gcpAuthLogin,
    azureAuthLogin,
    serviceKeyLogin,
    tlsCertAuthLogin,
    serviceKeyCertificate,
    registerInstance,
    refreshServiceCertificate,
    createInstanceRegisterToken,
    renewToken,
    revokeToken,
    getProjectBySlug,
    getProfileBySlug,
    issueCertificate,
    getCertificate,
    getCertificateBundle,
    getCertificateRequest,
    renewCertificate,
    listSecretsV4,
    getSecretByNameV4,
    close: http.close,
  };
};
export type KmsClient = ReturnType<typeof createKmsClient>;

/** A client certificate and key (PEM) for mTLS, and optionally the CA bundle that signed the server's certificate. */
export interface ClientTls { cert: string; key: string; ca?: string }

export interface AwsIamLoginBody { identityId: string; iamHttpRequestMethod: string; iamRequestBody: string; iamRequestHeaders: string }

const ServiceCertificate = z.looseObject({
  certificate: z.string().min(1),
  issuingCaCertificate: z.string(),
  certificateChain: z.string(),
  serialNumber: z.string(),
  certificateId: z.string(),
});
export type ServiceCertificate = z.infer<typeof ServiceCertificate>;
const InstanceRegisterToken = z.looseObject({ token: z.string().min(1), identityId: z.string(), instanceId: z.string(), expiresAt: z.string() });

const headerValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
