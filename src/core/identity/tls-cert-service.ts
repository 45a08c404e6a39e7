import { createHash, X509Certificate } from "node:crypto";
import type { Clock } from "../clock.js";
import type { RequestInfo } from "../actor.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import type { IdentityStore } from "../../store/identities.js";
import type { PkiStore } from "../../store/pki.js";
import type { ProjectStore } from "../../store/projects.js";
import type { CertificateTable } from "../../store/schema.js";
import type { WorkloadIdentityStore } from "../../store/workload-identity.js";
import { certificateSerialHex } from "../pki/certificate.js";
import { parseCsr } from "../pki/csr.js";
import { checkServiceTtl, type ServiceKeyService } from "./service-key-service.js";
import type { TokenGrant } from "./token-service.js";
import { commaList, LoginRefused, pick, wildcardMatch, type WorkloadAuthKind, type WorkloadAuthService } from "./workload-auth.js";

/**
 * Authentication with the certificate you hold (how Athenz and step-ca refresh): the client presents, over mTLS,
 * a certificate this server issued from a CA of the right project, still valid and not revoked. The TLS handshake
 * proves possession of its key; we look the exact certificate up by serial and fingerprint, so only our own
 * issuance counts.
 * - login (`tls-cert` auth attached to an identity): an access token, so a host needs no universal-auth secret;
 * - refresh: a service certificate renewed for the same identity and names (`kms svccert --refresh`).
 */

export interface TlsCertConfig { allowedNames: string }

export const NO_CLIENT_CERT =
  "no client certificate was presented: the server must run HTTPS with --tls-request-client-cert and the client must send its certificate";

type Deps = {
  workload: Pick<WorkloadAuthService, "authenticate" | "refuse" | "grant">;
  store: WorkloadIdentityStore;
  identityStore: Pick<IdentityStore, "getIdentity">;
  projects: Pick<ProjectStore, "get">;
  pki: Pick<PkiStore, "getCaCertificate" | "getCa">;
  serviceKeys: Pick<ServiceKeyService, "issueServiceCertificate" | "kind">;
  clock: Clock;
};

const namesOf = (c: CertificateTable): string[] => [c.common_name, ...commaList(c.alt_names)].filter(Boolean);

export const tlsCertServiceFactory = (d: Deps) => {
  /** The issued certificate behind a presented one, or a LoginRefused saying what is wrong with it. */
  const presented = async (der: Buffer | undefined, projectId: string | null): Promise<CertificateTable> => {
    if (!der || der.length === 0) throw new LoginRefused(NO_CLIENT_CERT);
    let serial: string;
    try { serial = certificateSerialHex(der); } catch { throw new LoginRefused("the client certificate is malformed"); }
    const cert = await d.store.getCaCertificateBySerial(serial, createHash("sha256").update(der).digest("hex"));
    if (!cert) throw new LoginRefused("the client certificate was not issued by this server's CAs");
    if (projectId && cert.project_id !== projectId) {
      const other = await d.projects.get(cert.project_id);
      throw new LoginRefused(`the client certificate was issued by a CA of another project${other ? ` ('${other.slug}')` : ""}`);
    }
    if (cert.status === "revoked") throw new LoginRefused(`the client certificate (serial ${cert.serial_number}) has been revoked`);
    const now = d.clock.now();
    if (Date.parse(cert.not_after) <= now) throw new LoginRefused(`the client certificate expired at ${cert.not_after}`);
    if (Date.parse(cert.not_before) > now) throw new LoginRefused("the client certificate is not valid yet");
    if (!cert.ca_id || !cert.ca_cert_id) throw new LoginRefused("the client certificate's issuing CA certificate is not on record");
    const ca = await d.pki.getCa(cert.ca_id);
    if (!ca || ca.status !== "active") throw new LoginRefused("the CA that issued the client certificate is no longer active");
    // The fingerprint match already ties the certificate to our issuance; checking the signature too keeps a
    // tampered inventory row from being enough.
    const caCert = await d.pki.getCaCertificate(cert.ca_cert_id);
    if (!caCert || !new X509Certificate(der).verify(new X509Certificate(caCert.certificate).publicKey))
      throw new LoginRefused("the client certificate's signature does not verify with its CA");
    return cert;
  };

  const kind: WorkloadAuthKind<TlsCertConfig, never, { der?: Buffer }> = {
    method: "tls-cert",
    title: "TLS certificate auth",
    tokenAuthMethod: "tls-cert-auth",
    configure: async (input, existing, actor) => {
      const projectId = pick(input, "projectId", existing?.projectId ?? undefined, "");
      const project = projectId ? await d.projects.get(projectId) : undefined;
      if (!project || project.org_id !== actor.orgId) throw projectId ? new NotFoundError(`Project with ID ${projectId} not found`) : new BadRequestError("projectId: is required (whose CAs issue the client certificates)");
      return { config: { allowedNames: pick(input, "allowedNames", existing?.config.allowedNames, "") }, secrets: null, projectId };
    },
    view: ({ config, projectId }) => ({ projectId, ...config }),
    verify: async (identityId, c, { der }) => {
      const cert = await presented(der, c.projectId ?? null);
      const bound = await d.store.getServiceCertificate(cert.id);
      if (bound?.identity_id === identityId) return { certificateId: cert.id, serialNumber: cert.serial_number, via: "service certificate" };
      const patterns = commaList(c.config.allowedNames);
      const names = namesOf(cert);
      if (!patterns.length) throw new LoginRefused("the client certificate is not a service certificate of this identity, and the identity allows no other names");
      if (!names.some((n) => patterns.some((p) => wildcardMatch(p.toLowerCase(), n.toLowerCase()))))
        throw new LoginRefused(`none of the certificate's names (${names.join(", ")}) is allowed`);
      return { certificateId: cert.id, serialNumber: cert.serial_number, via: "allowed names" };
    },
  };

  const login = async (identityId: string, der: Buffer | undefined, req: RequestInfo): Promise<TokenGrant> => {
    const { row, metadata } = await d.workload.authenticate(kind, identityId, { der }, req);
    return d.workload.grant(kind, row, req, metadata);
  };

  const refreshKind = { method: "tls-cert-refresh", title: "Certificate refresh", refusal: "Certificate refresh refused" };

  /** A new service certificate for the same identity and names; the CSR may carry a new key. */
  const refresh = async (der: Buffer | undefined, dto: { csr: string; ttl?: string; project?: string }, req: RequestInfo) => {
    checkServiceTtl(dto.ttl);
    let cert: CertificateTable;
    try {
      cert = await presented(der, null);
    } catch (e) {
      if (e instanceof LoginRefused) throw await d.workload.refuse(refreshKind, null, req, e.message);
      throw e;
    }
    const bound = await d.store.getServiceCertificate(cert.id);
    const identity = bound && (await d.identityStore.getIdentity(bound.identity_id));
    if (!bound || !identity) throw await d.workload.refuse(refreshKind, null, req, "only service identity certificates can be refreshed with the certificate itself");
    const fail = async (reason: string) => d.workload.refuse(refreshKind, identity.id, req, reason, identity.org_id);
    const project = await d.projects.get(cert.project_id);
    if (dto.project && project?.slug !== dto.project) throw await fail(`the client certificate was issued by a CA of another project ('${project?.slug}'), not '${dto.project}'`);
    const auth = await d.store.getAuth(identity.id, d.serviceKeys.kind.method);
    if (!auth) throw await fail("service key auth is no longer attached to the identity");
    if (auth.project_id !== cert.project_id) throw await fail("the client certificate was issued by a CA of another project than the identity's service settings name");
    const csr = parseCsr(dto.csr);
    const want = [...new Set(namesOf(cert).map((n) => n.toLowerCase()))].sort();
    const got = [...new Set([csr.subject.commonName ?? "", ...csr.sans.map((s) => s.value)].filter(Boolean).map((n) => n.toLowerCase()))].sort();
    if (want.join(",") !== got.join(",")) throw await fail(`the CSR must ask for the same names as the current certificate (${want.join(", ")}), got ${got.join(", ") || "none"}`);
    const lifetimeS = Math.max(1, Math.round((Date.parse(cert.not_after) - Date.parse(cert.not_before)) / 1000));
    return d.serviceKeys.issueServiceCertificate(auth, identity, dto.csr, { ttl: dto.ttl ?? `${lifetimeS}s`, instanceId: bound.instance_id }, req, "refresh-service-certificate");
  };

  return { kind, login, refresh };
};
export type TlsCertService = ReturnType<typeof tlsCertServiceFactory>;
