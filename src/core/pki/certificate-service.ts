import { availableParallelism } from "node:os";
import type { Clock } from "../clock.js";
import type { Actor } from "../actor.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { newTimeOrderedId } from "../ids.js";
import { createLimiter } from "../limiter.js";
import { isoNow } from "../time.js";
import { KEY_SPECS, exportPrivateKeyPem, generateKeyMaterial, generateKeyPair, type KeyAlgorithm } from "../../crypto/keys.js";
import { parseDuration } from "../../config/duration.js";
import type { CaState, PkiStore } from "../../store/pki.js";
import type { CertificateProfileTable, CertificateTable } from "../../store/schema.js";
import type { AuditService } from "../audit/audit-service.js";
import type { ProjectAccess } from "../projects/access.js";
import type { ProjectKeys } from "../projects/project-keys.js";
import {
  normalizeExtendedKeyUsages, normalizeKeyUsages, requireKeyAlgorithm, requireSignatureAlgorithm, defaultSignatureAlgorithm,
  isRevocationReason, revocationReasonCode, SAN_TYPES, type RevocationReason, type SanType, type SignatureAlgorithm,
} from "./algorithms.js";
import { contentsFromCsr, type CertificateContents } from "./contents.js";
import { parseAndVerifyCsr } from "./csr.js";
import { issueLeaf, issueSelfSigned } from "./issue.js";
import { checkPolicy } from "./policy.js";
import { addPolicyDuration, parsePolicyDuration } from "./policy-rules.js";
import { parseCertificate } from "./certificate.js";
import type { SubjectFields } from "./name.js";
import type { SubjectAltName } from "./san.js";
import type { CaService } from "./ca-service.js";
import type { PolicyService } from "./policy-service.js";
import type { EnrollmentType, ProfileService } from "./profile-service.js";
import type { CrlService } from "./crl-service.js";
import type { ExternalCaService } from "./external/external-ca-service.js";
import { certificateBlocks, joinPemBlocks } from "../../crypto/der/pem.js";

export interface IssueAttributes {
  commonName?: string | null; organization?: string | null; organizationalUnit?: string | null; country?: string | null;
  state?: string | null; locality?: string | null; altNames?: { type: string; value: string }[];
  keyUsages?: string[]; extendedKeyUsages?: string[]; keyAlgorithm?: string; signatureAlgorithm?: string;
  ttl?: string; notBefore?: string; notAfter?: string; basicConstraints?: { isCA: boolean; pathLength?: number };
  removeRootsFromChain?: boolean;
}
export interface IssueDto { profileId: string; csr?: string; attributes?: IssueAttributes; removeRootsFromChain?: boolean }

/** What a renewal repeats: the request as the client made it (no key material). */
interface StoredRequest { attributes: IssueAttributes; csr: boolean; keyAlgorithm: KeyAlgorithm | null; lifetimeMs: number }
/** The attributes a renewal repeats, with the chain choice wherever the request made it (top level or in attributes). */
const storedAttributes = (a: IssueAttributes, removeRoots: boolean): IssueAttributes =>
  removeRoots === (a.removeRootsFromChain ?? false) ? a : { ...a, removeRootsFromChain: removeRoots };

type Deps = {
  store: PkiStore;
  access: Pick<ProjectAccess, "requireProject" | "requireProjectBySlug" | "requireLoaded">;
  keys: Pick<ProjectKeys, "encrypt" | "decryptText">;
  cas: Pick<CaService, "issuerFor" | "issuerOf">;
  policies: Pick<PolicyService, "rulesFor">;
  profiles: Pick<ProfileService, "load">;
  crls: Pick<CrlService, "regenerate">;
  /** External (ACME) CAs: their profiles issue asynchronously (issue 9). Absent in tests that need none. */
  externals?: Pick<ExternalCaService, "forProfile" | "submit" | "revokeUpstream">;
  audit: Pick<AuditService, "record" | "entry">;
  clock: Clock;
};

const SUBJECT_KEYS = ["commonName", "organization", "organizationalUnit", "country", "state", "locality"] as const;
const DEFAULT_TTL_MS = 90 * 86_400_000;

// Chains hold the same few CA certificates over and over, and parseCertificate builds a KeyObject (~170 µs
// through OpenSSL's decoder): remember the answer per PEM block. Bounded, since imported chains vary.
const selfSigned = new Map<string, boolean>();
const isSelfSigned = (pem: string) => {
  let known = selfSigned.get(pem);
  if (known === undefined) {
    const c = parseCertificate(pem);
    known = c.issuerDer.equals(c.subjectDer);
    if (selfSigned.size < 1000) selfSigned.set(pem, known);
  }
  return known;
};
/**
 * RSA key generation holds a thread-pool thread for 100 ms to seconds. With more running than there are cores,
 * the event loop and every signature and CSR check (same pool) wait behind them; so at most one per core runs
 * at once, which costs no RSA throughput (the work is CPU-bound) and leaves the other pool threads to the
 * fast jobs. EC keys (~50 µs) are not limited.
 */
const rsaSlots = createLimiter(Math.max(1, availableParallelism()));
const newKeyPair = (alg: KeyAlgorithm) => (KEY_SPECS[alg].type === "rsa" ? rsaSlots(() => generateKeyPair(alg)) : generateKeyPair(alg));
const newKeyMaterial = (alg: KeyAlgorithm) => (KEY_SPECS[alg].type === "rsa" ? rsaSlots(() => generateKeyMaterial(alg)) : generateKeyMaterial(alg));

export const certificateServiceFactory = ({ store, access, keys, cas, policies, profiles, crls, audit, clock, externals }: Deps) => {
  const keyPurpose = (certId: string) => `certificate-private-key:${certId}`;

  /** Merges request attributes over profile defaults; `null` clears a default (api.md 7.6). */
  const resolveSubject = (a: IssueAttributes, d: Record<string, any>): SubjectFields => {
    const s: SubjectFields = {};
    for (const k of SUBJECT_KEYS) {
      const v = a[k] === undefined ? d[k] : a[k];
      if (typeof v === "string" && v !== "") s[k] = v;
    }
    return s;
  };

  const resolveSans = (list: { type: string; value: string }[] | undefined): SubjectAltName[] =>
    (list ?? []).map((n, i) => {
      if (!(SAN_TYPES as readonly string[]).includes(n.type)) throw new BadRequestError(`attributes.altNames[${i}].type: "${n.type}" is not one of ${SAN_TYPES.join(", ")}`);
      return { type: n.type as SanType, value: n.value };
    });

  const resolveValidity = (a: IssueAttributes, d: Record<string, any>, now: number): { notBefore: number; notAfter: number } => {
    if (a.ttl !== undefined && (a.notBefore !== undefined || a.notAfter !== undefined))
      throw new BadRequestError("attributes.ttl: give either ttl or notBefore/notAfter, not both");
    if (a.ttl !== undefined) {
      let ms: number;
      try { ms = parseDuration(a.ttl); } catch (e) { throw new BadRequestError(`attributes.ttl: ${(e as Error).message}`); }
      if (ms <= 0) throw new BadRequestError(`attributes.ttl: "${a.ttl}" must be positive`);
      return { notBefore: now, notAfter: now + ms };
    }
    if (a.notBefore !== undefined || a.notAfter !== undefined) {
      const nb = a.notBefore !== undefined ? Date.parse(a.notBefore) : now;
      const na = a.notAfter !== undefined ? Date.parse(a.notAfter) : NaN;
      if (Number.isNaN(nb)) throw new BadRequestError(`attributes.notBefore: "${a.notBefore}" is not an ISO date`);
      if (Number.isNaN(na)) throw new BadRequestError(`attributes.notAfter: ${a.notAfter === undefined ? "is required with notBefore" : `"${a.notAfter}" is not an ISO date`}`);
      if (nb >= na) throw new BadRequestError("attributes.notBefore must be before attributes.notAfter");
      return { notBefore: nb, notAfter: na };
    }
    const days = typeof d.ttlDays === "number" && d.ttlDays > 0 ? d.ttlDays : undefined;
    return { notBefore: now, notAfter: now + (days ? days * 86_400_000 : DEFAULT_TTL_MS) };
  };

  // The chain a CA certificate hands out, with and without roots: the same few texts for every issuance.
  const chains = new Map<string, string>();
  const chainOf = (caCert: { id: string; certificate: string; certificate_chain: string }, removeRoots: boolean) => {
    const key = `${caCert.id}:${removeRoots}`;
    let chain = chains.get(key);
    if (chain === undefined) {
      const blocks = [...certificateBlocks(caCert.certificate), ...certificateBlocks(caCert.certificate_chain)];
      chain = joinPemBlocks(removeRoots ? blocks.filter((b) => !isSelfSigned(b)) : blocks);
      if (chains.size > 1000) chains.clear();
      chains.set(key, chain);
    }
    return chain;
  };

  /**
   * Signs what the profile and its policy permit and records it; the profile's project role `member` is required.
   * ACME and EST (src/core/acme, src/core/est) authenticate their clients themselves and come through here with
   * `enrollment` set and no actor, so one policy check covers every way in.
   */
  const issueOrRequest = async (
    actor: Actor | null, profile: CertificateProfileTable, dto: IssueDto, renewedFrom?: CertificateTable,
    opts: {
      enrollment?: EnrollmentType; syncOnly?: boolean; policyUpdatedAt?: string | null;
      /** The state of the profile's CA, when it was read with the profile (getIssuanceContext). */
      caState?: CaState;
      /** The CSR is a template (EST serverkeygen): everything from it but the key, which the server generates. */
      serverKeygen?: boolean;
    } = {},
  ) => {
    const via = opts.enrollment ?? "api";
    if (profile.enrollment_type !== via) throw new BadRequestError(`Certificate profile '${profile.slug}' does not allow ${via.toUpperCase()} enrollment (it uses ${profile.enrollment_type})`);
    const a = dto.attributes ?? {};
    const defaults = profile.defaults ? (JSON.parse(profile.defaults) as Record<string, any>) : {};
    const policy = await policies.rulesFor(profile.policy_id, opts.policyUpdatedAt);
    const now = clock.now();
    let { notBefore, notAfter } = resolveValidity(a, defaults, now);
    const removeRoots = dto.removeRootsFromChain ?? a.removeRootsFromChain ?? false;
    const keyUsages = normalizeKeyUsages(a.keyUsages ?? defaults.keyUsages ?? [], "attributes.keyUsages");
    const extendedKeyUsages = normalizeExtendedKeyUsages(a.extendedKeyUsages ?? defaults.extendedKeyUsages ?? [], "attributes.extendedKeyUsages");
    const isCA = a.basicConstraints?.isCA ?? defaults.basicConstraints?.isCA ?? false;

    // A profile whose CA is external (ACME upstream) is answered `pending` after the policy check below; the
    // external-CA worker orders the certificate. Enrollment protocols answer synchronously and cannot use one.
    const external = externals ? await externals.forProfile(profile) : undefined;
    if (external && opts.syncOnly) throw new BadRequestError(`Certificate profile '${profile.slug}' issues from an external CA, which only API enrollment supports`);
    const ca = profile.issuer_type === "ca" && !external ? await (opts.caState ? cas.issuerOf(opts.caState) : cas.issuerFor(profile.ca_id!)) : undefined;
    // An ACME or EST client cannot say how long it wants: the default lifetime shrinks to what the policy and
    // the CA allow rather than failing every request of a profile whose policy is shorter than 90 days.
    if (opts.enrollment && a.ttl === undefined && a.notBefore === undefined && a.notAfter === undefined) {
      if (policy.validity?.max) notAfter = Math.min(notAfter, addPolicyDuration(notBefore, parsePolicyDuration(policy.validity.max)));
      if (ca) notAfter = Math.min(notAfter, ca.issuer.notAfter.getTime());
    }
    const sigOf = (keyAlg: KeyAlgorithm): SignatureAlgorithm => {
      const requested = a.signatureAlgorithm ?? defaults.signatureAlgorithm;
      if (requested) return requireSignatureAlgorithm(requested, "attributes.signatureAlgorithm");
      return ca ? ca.issuer.defaultSignatureAlgorithm : defaultSignatureAlgorithm(keyAlg);
    };

    let contents: CertificateContents & { publicKey?: Buffer };
    let keyAlgorithm: KeyAlgorithm | null = null;
    if (dto.csr) {
      if (dto.csr.length > 16_384) throw new BadRequestError("csr: longer than 16 KiB");
      const csr = await parseAndVerifyCsr(dto.csr);
      contents = contentsFromCsr(csr, {
        notBefore, notAfter, signatureAlgorithm: sigOf(csr.keyAlgorithm ?? "RSA_2048"),
        ...(a.keyUsages || defaults.keyUsages ? { keyUsages } : {}), ...(a.extendedKeyUsages || defaults.extendedKeyUsages ? { extendedKeyUsages } : {}),
      });
      keyAlgorithm = csr.keyAlgorithm ?? null;
      if (opts.serverKeygen) contents = { ...contents, publicKey: undefined };
    } else {
      keyAlgorithm = requireKeyAlgorithm(a.keyAlgorithm ?? defaults.keyAlgorithm ?? "RSA_2048", "attributes.keyAlgorithm");
      contents = {
        subject: resolveSubject(a, defaults), sans: resolveSans(a.altNames), keyUsages, extendedKeyUsages, keyAlgorithm,
        signatureAlgorithm: sigOf(keyAlgorithm), notBefore, notAfter, isCA,
      };
    }
    // Self-signed certificates are signed by their own key, so the signature must fit that key, not an issuer's.
    checkPolicy(policy, contents);
    if (external) {
      const stored: StoredRequest = { attributes: storedAttributes(a, removeRoots), csr: !!dto.csr, keyAlgorithm, lifetimeMs: notAfter - notBefore };
      const pending = await externals!.submit(external, profile, {
        contents, csrPem: dto.csr, keyAlgorithm, attributes: { ...a, removeRootsFromChain: removeRoots }, storedRequest: stored, renewedFromId: renewedFrom?.id ?? null,
      });
      if (actor) await audit.record(actor, {
        action: renewedFrom ? "request-certificate-renewal" : "request-certificate", resourceType: "certificate-request", resourceId: pending.certificateRequestId,
        projectId: profile.project_id, metadata: { profile: profile.slug, commonName: contents.subject.commonName ?? null, external: true, ...(renewedFrom && { renewedFrom: renewedFrom.id }) },
      });
      return pending;
    }

    let certPem: string;
    let serial: string;
    let fingerprint: string;
    let issuedNb: Date;
    let issuedNa: Date;
    let privateKeyPem: string | null = null;
    let issuingCaCertificate = "";
    let certificateChain = "";
    if (ca) {
      let publicKey = contents.publicKey;
      if (!publicKey) {
        const m = await newKeyMaterial(keyAlgorithm!);
        publicKey = m.spkiDer;
        privateKeyPem = m.privateKeyPem;
      }
      const issued = await issueLeaf(ca.issuer, { ...contents, publicKey });
      ({ pem: certPem, serialNumber: serial, fingerprintSha256: fingerprint, notBefore: issuedNb, notAfter: issuedNa } = issued);
      issuingCaCertificate = ca.caCert.certificate;
      certificateChain = chainOf(ca.caCert, removeRoots);
    } else {
      if (dto.csr) throw new BadRequestError("csr: a self-signed profile generates the key pair itself; send attributes without a CSR");
      const { certificate, keyPair } = await issueSelfSigned({ ...contents, keyAlgorithm: keyAlgorithm!, keyPair: await newKeyPair(keyAlgorithm!) });
      ({ pem: certPem, serialNumber: serial, fingerprintSha256: fingerprint, notBefore: issuedNb, notAfter: issuedNa } = certificate);
      privateKeyPem = exportPrivateKeyPem(keyPair.privateKey);
      issuingCaCertificate = certPem;
      certificateChain = removeRoots ? "" : certPem;
    }

    const id = newTimeOrderedId();
    const requestId = newTimeOrderedId();
    const stamp = isoNow(clock);
    const stored: StoredRequest = { attributes: storedAttributes(a, removeRoots), csr: !!dto.csr, keyAlgorithm, lifetimeMs: notAfter - notBefore };
    const row: CertificateTable = {
      id, project_id: profile.project_id, ca_id: ca?.ca.id ?? null, ca_cert_id: ca?.caCert.id ?? null, profile_id: profile.id, status: "active",
      serial_number: serial, common_name: contents.subject.commonName ?? "", alt_names: contents.sans.map((s) => s.value).join(","),
      not_before: issuedNb.toISOString(), not_after: issuedNa.toISOString(), revoked_at: null, revocation_reason: null,
      key_usages: JSON.stringify(contents.keyUsages), extended_key_usages: JSON.stringify(contents.extendedKeyUsages),
      key_algorithm: keyAlgorithm ?? "", signature_algorithm: contents.signatureAlgorithm, certificate: certPem,
      // Internal CA: the chain is the CA certificate's, put back on read (store/pki.ts), not repeated per row.
      certificate_chain: ca ? "" : certPem,
      encrypted_private_key: privateKeyPem ? await keys.encrypt(profile.project_id, privateKeyPem, keyPurpose(id)) : null,
      fingerprint_sha256: fingerprint, request: JSON.stringify(stored), renewed_from_id: renewedFrom?.id ?? null, created_at: stamp, updated_at: stamp,
    };
    // The audit event is committed with the certificate (one transaction, shared with concurrent issuances).
    const event = actor ? audit.entry(actor, {
      action: renewedFrom ? "renew-certificate" : "issue-certificate", resourceType: "certificate", resourceId: id, projectId: profile.project_id,
      metadata: { profile: profile.slug, serialNumber: serial, commonName: row.common_name, ...(renewedFrom && { renewedFrom: renewedFrom.id }) },
    }) : undefined;
    await store.insertIssued(row, {
      id: requestId, project_id: profile.project_id, profile_id: profile.id, status: "issued", certificate_id: id, error_message: null,
      attributes: JSON.stringify(a), created_at: stamp, updated_at: stamp,
    }, event);
    return {
      certificate: { certificate: certPem, issuingCaCertificate, certificateChain, ...(privateKeyPem && { privateKey: privateKeyPem }), serialNumber: serial, certificateId: id },
      certificateRequestId: requestId, status: "issued" as const, message: "Certificate issued",
    };
  };

  /** The API route. Profile, project, the caller's role and the policy version arrive in one query (hot path). */
  type Issued = Extract<Awaited<ReturnType<typeof issueOrRequest>>, { status: "issued" }>;
  /** Synchronous issuance (ACME, EST and service-key enrollment): a profile on an external CA is refused up front. */
  const issueForProfile = async (...[actor, profile, dto, renewedFrom, opts]: Parameters<typeof issueOrRequest>): Promise<Issued> =>
    (await issueOrRequest(actor, profile, dto, renewedFrom, { ...opts, syncOnly: true })) as Issued;

  const issue = async (actor: Actor, dto: IssueDto) => {
    const found = await store.getIssuanceContext(dto.profileId, actor.identityId);
    if (!found) throw new NotFoundError(`Certificate profile with ID ${dto.profileId} not found`);
    const { project_org_id, member_role, member_access_starts_at, member_access_ends_at, policy_updated_at, ca_name, ca_status, ca_active_cert_id, ...profile } = found;
    access.requireLoaded(actor, { id: profile.project_id, org_id: project_org_id }, { member_role, member_access_starts_at, member_access_ends_at }, "member");
    const caState = profile.ca_id && ca_name !== null && ca_status !== null ? { id: profile.ca_id, name: ca_name, status: ca_status, active_ca_cert_id: ca_active_cert_id } : undefined;
    return issueOrRequest(actor, profile, dto, undefined, { policyUpdatedAt: policy_updated_at, caState });
  };

  const loadCert = async (actor: Actor, id: string, role: "viewer" | "member" | "admin") => {
    const c = await store.getCertificate(id);
    if (!c) throw new NotFoundError(`Certificate with ID ${id} not found`);
    await access.requireProject(actor, c.project_id, role);
    return c;
  };

  const statusOf = (c: Pick<CertificateTable, "status" | "not_after">) => (c.status === "revoked" ? "revoked" : Date.parse(c.not_after) <= clock.now() ? "expired" : "active");

  const record = (c: CertificateTable) => ({
    id: c.id, projectId: c.project_id, caId: c.ca_id, caCertId: c.ca_cert_id, profileId: c.profile_id, status: statusOf(c),
    serialNumber: c.serial_number, friendlyName: c.common_name, commonName: c.common_name, altNames: c.alt_names,
    notBefore: c.not_before, notAfter: c.not_after, revokedAt: c.revoked_at, revocationReason: c.revocation_reason,
    keyUsages: JSON.parse(c.key_usages), extendedKeyUsages: JSON.parse(c.extended_key_usages), keyAlgorithm: c.key_algorithm,
    signatureAlgorithm: c.signature_algorithm, fingerprints: { sha256: c.fingerprint_sha256 }, caType: c.ca_id ? "internal" : null,
    createdAt: c.created_at, updatedAt: c.updated_at,
  });

  const privateKeyOf = async (c: CertificateTable) => (c.encrypted_private_key ? keys.decryptText(c.project_id, c.encrypted_private_key, keyPurpose(c.id)) : null);

  const get = async (actor: Actor, id: string) => record(await loadCert(actor, id, "viewer"));

  const bundle = async (actor: Actor, id: string) => {
    const c = await loadCert(actor, id, "member");
    return { certificate: c.certificate, certificateChain: c.certificate_chain || null, privateKey: await privateKeyOf(c), serialNumber: c.serial_number };
  };

  const certificateBody = async (actor: Actor, id: string) => {
    const c = await loadCert(actor, id, "viewer");
    return { certificate: c.certificate, certificateChain: c.certificate_chain, serialNumber: c.serial_number };
  };

  const privateKey = async (actor: Actor, id: string) => {
    const c = await loadCert(actor, id, "member");
    const pem = await privateKeyOf(c);
    if (!pem) throw new NotFoundError(`Certificate ${id} was issued for a CSR: this server never held its private key`);
    await audit.record(actor, { action: "read-certificate-private-key", resourceType: "certificate", resourceId: id, projectId: c.project_id });
    return pem;
  };

  /**
   * Marks a certificate revoked and re-signs its CA's CRL before returning, so the CRL shows it at once (api.md 7.3).
   * One ordered from an external ACME CA is revoked there first; if that fails, nothing changes here.
   */
  const revokeRecord = async (c: CertificateTable, reason: RevocationReason) => {
    if (c.status === "revoked") throw new BadRequestError(`Certificate ${c.id} is already revoked`);
    if (!c.ca_id && externals) await externals.revokeUpstream(c, revocationReasonCode(reason));
    const at = isoNow(clock);
    await store.revokeCertificate(c.id, at, revocationReasonCode(reason));
    if (c.ca_id) await crls.regenerate(c.ca_id);
    return at;
  };

  const revoke = async (actor: Actor, id: string, reason: string) => {
    const c = await loadCert(actor, id, "member");
    if (!isRevocationReason(reason)) throw new BadRequestError(`revocationReason: "${reason}" is not a revocation reason`);
    const at = await revokeRecord(c, reason);
    await audit.record(actor, { action: "revoke-certificate", resourceType: "certificate", resourceId: id, projectId: c.project_id, metadata: { reason, serialNumber: c.serial_number } });
    return { message: "Successfully revoked certificate", serialNumber: c.serial_number, revokedAt: at };
  };

  /** Revocation whose caller was authenticated by an enrollment protocol (an ACME account or certificate key). */
  const revokeForEnrollment = async (id: string, reason: RevocationReason) => {
    const c = await store.getCertificate(id);
    if (!c) throw new NotFoundError(`Certificate with ID ${id} not found`);
    return revokeRecord(c, reason);
  };

  /** A new certificate with the same request and lifetime and a new key; CSR-issued certificates cannot be renewed here. */
  const renew = async (actor: Actor, id: string, dto: { removeRootsFromChain?: boolean }) => {
    const c = await loadCert(actor, id, "member");
    if (c.status === "revoked") throw new BadRequestError(`Certificate ${id} is revoked and cannot be renewed`);
    const stored = JSON.parse(c.request) as StoredRequest;
    if (stored.csr) throw new BadRequestError(`Certificate ${id} was issued for a CSR: the server has no private key to renew it with; submit a new CSR instead`);
    if (!c.profile_id) throw new BadRequestError(`Certificate ${id} has no profile to renew against`);
    const profile = await profiles.load(c.profile_id);
    const { ttl: _t, notBefore: _b, notAfter: _a, ...attributes } = stored.attributes;
    const r = await issueOrRequest(actor, profile, {
      profileId: profile.id, attributes: { ...attributes, ttl: `${Math.max(1, Math.round(stored.lifetimeMs / 1000))}s` },
      removeRootsFromChain: dto.removeRootsFromChain ?? stored.attributes.removeRootsFromChain,
    }, c);
    // An external CA answers later: the client polls certificateRequestId (api.md 7.8 renew semantics).
    if (!r.certificate) return { certificate: null, certificateRequestId: r.certificateRequestId, status: r.status, message: r.message };
    return { ...r.certificate, certificateRequestId: r.certificateRequestId };
  };

  const remove = async (actor: Actor, id: string) => {
    const c = await loadCert(actor, id, "admin");
    await store.deleteCertificate(id);
    await audit.record(actor, { action: "delete-certificate", resourceType: "certificate", resourceId: id, projectId: c.project_id });
    return record(c);
  };

  const list = async (actor: Actor, projectId: string, q: { status?: string; commonName?: string; expiringBefore?: string; offset?: number; limit?: number }) => {
    await access.requireProject(actor, projectId, "viewer");
    if (q.expiringBefore && Number.isNaN(Date.parse(q.expiringBefore))) throw new BadRequestError(`expiringBefore: "${q.expiringBefore}" is not an ISO date`);
    const { certificates, totalCount } = await store.listCertificates(projectId, {
      status: q.status, commonName: q.commonName, expiringBefore: q.expiringBefore && new Date(q.expiringBefore).toISOString(),
      offset: q.offset ?? 0, limit: Math.min(q.limit ?? 100, 1000), now: isoNow(clock),
    });
    // totalCount counts what the filters match, so a client can page through them.
    return { certificates: certificates.map(record), totalCount };
  };

  const request = async (actor: Actor, requestId: string) => {
    const r = await store.getRequest(requestId);
    if (!r) throw new NotFoundError(`Certificate request with ID ${requestId} not found`);
    await access.requireProject(actor, r.project_id, "member");
    const c = r.certificate_id ? await store.getCertificate(r.certificate_id) : undefined;
    const attrs = JSON.parse(r.attributes) as IssueAttributes;
    const removeRoots = attrs.removeRootsFromChain ?? false;
    const blocks = c ? certificateBlocks(c.certificate_chain) : [];
    return {
      status: r.status, certificate: c?.certificate ?? null, certificateId: c?.id ?? null, privateKey: c ? await privateKeyOf(c) : null,
      serialNumber: c?.serial_number ?? null, errorMessage: r.error_message,
      // The stored chain starts with the issuing CA (internal or external); a self-signed certificate is its own.
      issuingCaCertificate: c ? (c.ca_id || (blocks[0] && c.certificate_chain.trim() !== c.certificate.trim()) ? blocks[0] + "\n" : c.certificate) : null,
      certificateChain: c ? joinPemBlocks(removeRoots ? blocks.filter((b) => !isSelfSigned(b)) : blocks) : null,
      commonName: c?.common_name ?? attrs.commonName ?? null, createdAt: r.created_at, updatedAt: r.updated_at,
    };
  };

  /**
   * A project's certificate requests, newest first unless asked otherwise (api.md 7.7, Infisical's shape). No
   * key material: a request's certificate is named by id, serial and status; its PEMs are one poll away.
   */
  const requests = async (actor: Actor, ref: { projectId?: string; projectSlug?: string }, q: {
    offset?: number; limit?: number; status?: string; search?: string; fromDate?: string; toDate?: string; profileIds?: string[]; sortOrder?: "asc" | "desc";
  }) => {
    if (!ref.projectId && !ref.projectSlug) throw new BadRequestError("projectSlug or projectId is required");
    const project = ref.projectId ? await access.requireProject(actor, ref.projectId, "viewer") : await access.requireProjectBySlug(actor, ref.projectSlug!, "viewer");
    const date = (v: string | undefined, field: string) => {
      if (v === undefined) return undefined;
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw new BadRequestError(`${field}: "${v}" is not an ISO date`);
      return new Date(t).toISOString();
    };
    const { rows, totalCount } = await store.listRequests(project.id, {
      status: q.status, search: q.search?.trim() || undefined, from: date(q.fromDate, "fromDate"), to: date(q.toDate, "toDate"), profileIds: q.profileIds,
      offset: q.offset ?? 0, limit: q.limit ?? 20, newestFirst: q.sortOrder !== "asc",
    });
    return {
      certificateRequests: rows.map((r) => {
        const attrs = JSON.parse(r.attributes) as IssueAttributes;
        return {
          id: r.id, status: r.status,
          // The certificate's names once there is one, else what was asked for; null for none, as Infisical.
          commonName: (r.certificate_id ? r.common_name : attrs.commonName) || null,
          altNames: (r.certificate_id ? r.alt_names : attrs.altNames?.map((n) => n.value).join(",")) || null,
          profileId: r.profile_id, profileName: r.profile_slug ?? null, caId: r.ca_id ?? r.profile_ca_id ?? null, certificateId: r.certificate_id,
          approvalRequestId: null, errorMessage: r.error_message, createdAt: r.created_at, updatedAt: r.updated_at,
          certificate: r.certificate_id && r.serial_number !== null
            ? { id: r.certificate_id, serialNumber: r.serial_number, status: statusOf({ status: r.certificate_status!, not_after: r.not_after! }) }
            : null,
        };
      }),
      totalCount,
    };
  };

  return { issue, issueForProfile, get, bundle, certificateBody, privateKey, revoke, revokeForEnrollment, renew, remove, list, request, requests, record };
};
export type CertificateService = ReturnType<typeof certificateServiceFactory>;
