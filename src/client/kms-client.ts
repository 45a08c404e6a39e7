import { z } from "zod";
import { createHttpTransport } from "./http.js";
import type { CallOptions, HttpOptions } from "./http.js";
import {
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

  return {
    universalAuthLogin,
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

const headerValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
