import { createHash, createPublicKey } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Actor, RequestInfo } from "../actor.js";
import { BadRequestError, ForbiddenError, NotFoundError } from "../errors.js";
import { isUuid, newId } from "../ids.js";
import { isoAt, isoNow } from "../time.js";
import type { IdentityStore } from "../../store/identities.js";
import type { ProjectStore } from "../../store/projects.js";
import type { PkiStore } from "../../store/pki.js";
import type { IdentityTable, ServicePublicKeyTable, WorkloadAuthTable } from "../../store/schema.js";
import type { WorkloadIdentityStore } from "../../store/workload-identity.js";
import type { AuditService } from "../audit/audit-service.js";
import type { CertificateService } from "../pki/certificate-service.js";
import { parseCsr } from "../pki/csr.js";
import { parseDuration } from "../../config/duration.js";
import type { IdentityService } from "./identity-service.js";
import type { TokenGrant } from "./token-service.js";
import { commaList, LoginRefused, pick, type WorkloadAuthKind, type WorkloadAuthService } from "./workload-auth.js";
import { CLOCK_TOLERANCE_S, peekJwt, verifyJwt } from "./workload-jwt.js";
import { isDnsDomain, normalizeAudience, SERVICE_JWT_MAX_LIFETIME_S } from "./service-key-names.js";

/**
 * Service key-pair identity (seed 004, Athenz "service registered public/private key pairs"). An identity registers
 * public keys under key versions; a client proves itself with a short JWT signed by the private key
 * (`kid` = key version, `aud` = this server, at most 10 minutes, single-use `jti`) and receives an access token or,
 * with a CSR, a certificate from the profile configured on the identity's service-key settings.
 */

export interface ServiceKeyConfig { profileId: string; dnsDomains: string; trustDomain: string }
export interface ServiceCertificateOptions { ttl?: string; profile?: string; instanceId?: string | null }

type Deps = {
  workload: Pick<WorkloadAuthService, "authenticate" | "refuse" | "grant" | "load">;
  store: WorkloadIdentityStore;
  identityStore: Pick<IdentityStore, "getIdentity">;
  identities: Pick<IdentityService, "getForAdmin">;
  projects: Pick<ProjectStore, "get">;
  pki: Pick<PkiStore, "getProfile">;
  certificates: Pick<CertificateService, "issueForProfile">;
  audit: Pick<AuditService, "record" | "recordAuth">;
  clock: Clock;
  publicUrl: () => string;
};

const SUPPORTED_KEYS = "RSA (2048 bits or more), EC P-256/P-384/P-521 or Ed25519";

export const serviceKeyServiceFactory = (d: Deps) => {
  const { store, clock } = d;

  const kind: WorkloadAuthKind<ServiceKeyConfig, never, { jwt: string }> = {
    method: "service-key",
    title: "Service key auth",
    tokenAuthMethod: "service-key",
    configure: async (input, existing, actor) => {
      const e = existing?.config;
      const profileId = pick(input, "profileId", e?.profileId, "");
      if (!profileId) throw new BadRequestError("profileId: is required (the certificate profile service certificates are issued from)");
      const profile = await d.pki.getProfile(profileId);
      const project = profile && (await d.projects.get(profile.project_id));
      if (!profile || !project || project.org_id !== actor.orgId) throw new NotFoundError(`Certificate profile with ID ${profileId} not found`);
      if (profile.issuer_type !== "ca" || profile.enrollment_type !== "api")
        throw new BadRequestError(`profileId: profile '${profile.slug}' must issue from a CA with API enrollment to sign service CSRs`);
      const dnsDomains = commaList(pick(input, "dnsDomains", e?.dnsDomains, "")).map((x) => x.toLowerCase());
      if (!dnsDomains.length) throw new BadRequestError("dnsDomains: give at least one DNS domain (comma list) service names may use");
      for (const dom of dnsDomains) if (!isDnsDomain(dom)) throw new BadRequestError(`dnsDomains: "${dom}" is not a DNS domain`);
      const trustDomain = pick(input, "trustDomain", e?.trustDomain, dnsDomains[0]!).toLowerCase();
      if (!isDnsDomain(trustDomain)) throw new BadRequestError(`trustDomain: "${trustDomain}" is not a DNS domain`);
      return { config: { profileId, dnsDomains: dnsDomains.join(","), trustDomain }, secrets: null, projectId: profile.project_id };
    },
    view: ({ config, projectId }) => ({ ...config, projectId }),
    verify: async (identityId, _c, { jwt }) => {
      const { header } = peekJwt(jwt);
      if (!header.kid) throw new LoginRefused("the token has no kid header (the key version)");
      const key = await store.getPublicKey(identityId, header.kid);
      if (!key) throw new LoginRefused(`no public key is registered under key version "${header.kid}"`);
      const claims = await verifyJwt(jwt, createPublicKey(key.public_key), {
        audience: normalizeAudience(d.publicUrl()), clock, maxLifetimeSeconds: SERVICE_JWT_MAX_LIFETIME_S, required: ["jti", "iat", "sub"],
      });
      // Stored hashed and scoped to the identity: a jti is the client's choice and may be long. Remembered for as long
      // as the token verifies, which is past exp by the clock tolerance: forgetting it at exp let a replay through.
      const jtiKey = createHash("sha256").update(`${identityId}\0${String(claims.jti)}`).digest("hex");
      if (!(await store.useJti(jtiKey, isoAt((claims.exp! + CLOCK_TOLERANCE_S) * 1000), isoNow(clock)))) throw new LoginRefused("the token's jti was already used (replayed token)");
      return { keyVersion: header.kid };
    },
  };

  /** The identity a service JWT claims (`sub` = identity id, or name with the `project` claim), before any trust. */
  const resolve = async (jwt: string, req: RequestInfo): Promise<{ row: WorkloadAuthTable; identity: IdentityTable }> => {
    let sub = "";
    let project = "";
    try {
      const { payload } = peekJwt(jwt);
      sub = typeof payload.sub === "string" ? payload.sub : "";
      project = typeof payload.project === "string" ? payload.project : "";
    } catch (e) {
      throw await d.workload.refuse(kind, null, req, (e as Error).message);
    }
    if (!sub) throw await d.workload.refuse(kind, null, req, "the token has no sub (the identity id or name)");
    let rows: WorkloadAuthTable[];
    if (isUuid(sub)) {
      const row = await store.getAuth(sub, kind.method);
      rows = row ? [row] : [];
    } else {
      if (!project) throw await d.workload.refuse(kind, null, req, `the token names identity "${sub}" by name: add the project claim, or use the identity id`);
      rows = await store.findServiceAuthsByName(kind.method, project, sub);
    }
    if (rows.length > 1) throw await d.workload.refuse(kind, null, req, `identity name "${sub}" is ambiguous in project "${project}": use the identity id`);
    const identity = rows[0] && (await d.identityStore.getIdentity(rows[0].identity_id));
    if (!rows[0] || !identity) throw await d.workload.refuse(kind, null, req, `no identity "${sub}" with service key auth${project ? ` in project "${project}"` : ""}`);
    if (project && rows[0].project_id) {
      const p = await d.projects.get(rows[0].project_id);
      if (p && p.slug !== project) throw await d.workload.refuse(kind, identity.id, req, `the identity's service certificates belong to project "${p.slug}", not "${project}"`, identity.org_id);
    }
    return { row: rows[0], identity };
  };

  const prove = async (jwt: string, req: RequestInfo) => {
    const { identity } = await resolve(jwt, req);
    const { row, metadata } = await d.workload.authenticate(kind, identity.id, { jwt }, req);
    return { row, identity, metadata };
  };

  const login = async (jwt: string, req: RequestInfo): Promise<TokenGrant> => {
    const { row, metadata } = await prove(jwt, req);
    return d.workload.grant(kind, row, req, metadata);
  };

  /** Checks a CSR asks for exactly the identity's service names, then issues it from the configured profile. */
  const issueServiceCertificate = async (row: WorkloadAuthTable, identity: IdentityTable, csrPem: string, o: ServiceCertificateOptions, req: RequestInfo, action: string) => {
    const { config } = d.workload.load<ServiceKeyConfig, never>(row);
    const profile = await d.pki.getProfile(config.profileId);
    const project = row.project_id ? await d.projects.get(row.project_id) : undefined;
    if (!profile || !project) throw new BadRequestError(`The service key settings of identity ${identity.id} name a profile that no longer exists`);
    if (o.profile && o.profile !== profile.id && o.profile !== profile.slug)
      throw new ForbiddenError(`profile "${o.profile}" is not the one configured for this service identity ('${profile.slug}')`);
    checkServiceCsr(csrPem, { identity, projectSlug: project.slug, config });
    const issued = await d.certificates.issueForProfile(null, profile, { profileId: profile.id, csr: csrPem, attributes: o.ttl ? { ttl: o.ttl } : {} });
    const c = issued.certificate;
    await store.insertServiceCertificate({
      certificate_id: c.certificateId, identity_id: identity.id, project_id: project.id, profile_id: profile.id, instance_id: o.instanceId ?? null, created_at: isoNow(clock),
    });
    await d.audit.recordAuth(identity.id, req, {
      action, resourceType: "certificate", resourceId: c.certificateId, projectId: project.id, orgId: identity.org_id,
      metadata: { serialNumber: c.serialNumber, profile: profile.slug, ...(o.instanceId ? { instanceId: o.instanceId } : {}) },
    });
    return { certificate: c.certificate, issuingCaCertificate: c.issuingCaCertificate, certificateChain: c.certificateChain, serialNumber: c.serialNumber, certificateId: c.certificateId };
  };

  const certificate = async (jwt: string, csr: string, o: ServiceCertificateOptions, req: RequestInfo) => {
    checkServiceTtl(o.ttl);
    const { row, identity } = await prove(jwt, req);
    return issueServiceCertificate(row, identity, csr, { ...o, instanceId: null }, req, "issue-service-certificate");
  };

  // Public keys ---------------------------------------------------------------------------------------
  const keyView = (k: ServicePublicKeyTable) => ({ id: k.id, identityId: k.identity_id, keyVersion: k.key_version, publicKey: k.public_key, createdAt: k.created_at });

  const addKey = async (actor: Actor, identityId: string, dto: { keyVersion: string; publicKey: string }) => {
    const identity = await d.identities.getForAdmin(actor, identityId);
    // createPublicKey would happily derive the public half of a pasted private key: refuse it, so the mistake is
    // seen (the private key has travelled to the server) instead of silently registered.
    if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(dto.publicKey))
      throw new BadRequestError("publicKey: this is a private key (it was not stored); send only its public half, e.g. `openssl pkey -in key.pem -pubout`");
    let pem: string;
    try {
      const key = createPublicKey(dto.publicKey);
      const t = key.asymmetricKeyType;
      const d = key.asymmetricKeyDetails;
      const ok = t === "ed25519" || (t === "ec" && ["prime256v1", "secp384r1", "secp521r1"].includes(d?.namedCurve ?? "")) || (t === "rsa" && (d?.modulusLength ?? 0) >= 2048);
      if (!ok) throw new BadRequestError(`publicKey: unsupported key; use ${SUPPORTED_KEYS}`);
      pem = key.export({ type: "spki", format: "pem" }) as string;
    } catch (e) {
      if (e instanceof BadRequestError) throw e;
      throw new BadRequestError(`publicKey: not a PEM public key (${SUPPORTED_KEYS})`);
    }
    if (await store.getPublicKey(identity.id, dto.keyVersion)) throw new BadRequestError(`A public key with key version "${dto.keyVersion}" is already registered for this identity`);
    const row: ServicePublicKeyTable = { id: newId(), identity_id: identity.id, key_version: dto.keyVersion, public_key: pem, created_at: isoNow(clock) };
    await store.insertPublicKey(row);
    await d.audit.record(actor, { action: "add-service-public-key", resourceType: "identity", resourceId: identity.id, metadata: { keyVersion: dto.keyVersion } });
    return keyView(row);
  };

  const listKeys = async (actor: Actor, identityId: string) => (await store.listPublicKeys((await d.identities.getForAdmin(actor, identityId)).id)).map(keyView);

  const deleteKey = async (actor: Actor, identityId: string, keyVersion: string) => {
    const identity = await d.identities.getForAdmin(actor, identityId);
    const k = await store.getPublicKey(identity.id, keyVersion);
    if (!k) throw new NotFoundError(`No public key with key version "${keyVersion}" for identity ${identityId}`);
    await store.deletePublicKey(k.id);
    await d.audit.record(actor, { action: "delete-service-public-key", resourceType: "identity", resourceId: identity.id, metadata: { keyVersion } });
    return keyView(k);
  };

  return { kind, login, certificate, issueServiceCertificate, addKey, listKeys, deleteKey };
};
export type ServiceKeyService = ReturnType<typeof serviceKeyServiceFactory>;

/**
 * The request's `ttl`, checked before any proof is spent (a JWT's jti, a register token) and named as the request
 * names it: the issuance engine would call it `attributes.ttl`.
 */
export const checkServiceTtl = (ttl: string | undefined) => {
  if (ttl === undefined) return;
  let ms: number;
  try {
    ms = parseDuration(ttl);
  } catch (e) {
    throw new BadRequestError(`ttl: ${(e as Error).message}`);
  }
  if (ms <= 0) throw new BadRequestError(`ttl: "${ttl}" must be positive`);
};

/** The CSR must name the service exactly as service-key-names.ts builds it, and nothing else. */
export const checkServiceCsr = (csrPem: string, o: { identity: IdentityTable; projectSlug: string; config: ServiceKeyConfig }) => {
  const csr = parseCsr(csrPem);
  const labels = [o.identity.id.toLowerCase(), o.identity.name.toLowerCase()];
  const domains = commaList(o.config.dnsDomains);
  const expected = `<identity>.${o.projectSlug}.<one of ${domains.join(", ")}>`;
  const other = csr.sans.filter((s) => s.type !== "dns_name" && s.type !== "uri");
  if (other.length || csr.unsupportedSans.length) throw new ForbiddenError(`csr: a service certificate carries only its DNS and SPIFFE names, not ${[...other.map((s) => s.value), ...csr.unsupportedSans].join(", ")}`);
  const dns = csr.sans.filter((s) => s.type === "dns_name").map((s) => s.value.toLowerCase());
  if (dns.length !== 1) throw new ForbiddenError(`csr: expected exactly one DNS name ${expected}, got ${dns.length ? dns.join(", ") : "none"}`);
  const name = dns[0]!;
  const label = labels.find((l) => domains.some((dom) => name === `${l}.${o.projectSlug}.${dom}`));
  if (!label) throw new ForbiddenError(`csr: DNS name "${name}" is not ${expected} for identity ${o.identity.id}`);
  const spiffe = `spiffe://${o.config.trustDomain}/ns/${o.projectSlug}/sa/${label}`;
  const uris = csr.sans.filter((s) => s.type === "uri").map((s) => s.value);
  if (uris.length !== 1 || uris[0] !== spiffe) throw new ForbiddenError(`csr: expected the URI name ${spiffe}, got ${uris.length ? uris.join(", ") : "none"}`);
  const cn = csr.subject.commonName;
  if (cn !== undefined && cn.toLowerCase() !== name) throw new ForbiddenError(`csr: common name "${cn}" must be the DNS name ${name} or absent`);
};
