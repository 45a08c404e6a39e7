import type { Clock } from "../clock.js";
import type { Actor } from "../actor.js";
import { BadRequestError, NotFoundError, ValidationError } from "../errors.js";
import { newId, SLUG } from "../ids.js";
import { isoNow } from "../time.js";
import type { PkiStore } from "../../store/pki.js";
import type { CertificateProfileTable } from "../../store/schema.js";
import type { AuditService } from "../audit/audit-service.js";
import type { ProjectAccess } from "../projects/access.js";
import { hashPassword } from "../../crypto/hash.js";
import { fromPemAll } from "../../crypto/der/pem.js";
import { parseCertificate } from "./certificate.js";
import {
  assertSignatureCompatible, keyFamily, normalizeExtendedKeyUsages, normalizeKeyUsages, requireKeyAlgorithm, requireSignatureAlgorithm, signatureFamily,
} from "./algorithms.js";
import { isKeyAlgorithm, type KeyAlgorithm } from "./algorithms.js";
import { validateSubject, type SubjectFields } from "./name.js";
import { addPolicyDuration, normalizePolicy, parsePolicyDuration } from "./policy-rules.js";

export const ENROLLMENT_TYPES = ["api", "est", "acme"] as const;
export type EnrollmentType = (typeof ENROLLMENT_TYPES)[number];

/** est_config as stored: the passphrase only as a salted scrypt hash (never returned, never logged). */
export interface StoredEstConfig { disableBootstrapCaValidation: boolean; passphraseHash: string; caChain?: string }
/** acme_config as stored (api.md 7.5). */
export interface StoredAcmeConfig { skipDnsOwnershipVerification: boolean; skipEabBinding: boolean }
/** Where a profile's ACME directory is served (src/core/acme/urls.ts builds the rest). */
export const acmeDirectoryPath = (profileId: string) => `/api/v1/cert-manager/acme/profiles/${profileId}/directory`;
export const ISSUER_TYPES = ["ca", "self-signed"] as const;

export interface ProfileDto {
  projectId: string; certificatePolicyId?: string; certificateTemplateId?: string; caId?: string | null; slug: string;
  description?: string; enrollmentType?: string; issuerType?: string;
  apiConfig?: { autoRenew?: boolean; renewBeforeDays?: number } | null; estConfig?: Record<string, unknown> | null;
  acmeConfig?: Record<string, unknown> | null; externalConfigs?: unknown; defaults?: Record<string, unknown> | null;
}

type Deps = {
  store: PkiStore; access: Pick<ProjectAccess, "requireProject" | "requireProjectBySlug">; audit: Pick<AuditService, "record">; clock: Clock;
  /** The server's public base URL, to show an ACME profile's directory URL. */
  publicUrl?: () => string;
};

const invalid = (path: string, message: string) => new ValidationError(`${path}: ${message}`, [{ path: ["body", ...path.split(".")], message }]);

const bool = (v: unknown, path: string, fallback: boolean): boolean => {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw invalid(path, "must be a boolean");
  return v;
};

/** estConfig / acmeConfig of a request, checked and merged over what is stored (api.md 7.5). */
const resolveEstConfig = async (dto: Record<string, unknown>, stored: StoredEstConfig | undefined): Promise<StoredEstConfig> => {
  const { passphrase, caChain } = dto;
  if (passphrase === undefined && !stored) throw invalid("estConfig.passphrase", "is required: EST clients authenticate with it (HTTP basic)");
  if (passphrase !== undefined && (typeof passphrase !== "string" || passphrase.length < 8 || passphrase.length > 256))
    throw invalid("estConfig.passphrase", "must be a string of 8 to 256 characters");
  let chain = stored?.caChain;
  if (caChain !== undefined && caChain !== null && caChain !== "") {
    if (typeof caChain !== "string") throw invalid("estConfig.caChain", "must be a PEM string of CA certificates");
    try {
      const certs = fromPemAll(caChain).filter((b) => b.label === "CERTIFICATE");
      if (!certs.length) throw new Error("contains no CERTIFICATE block");
      for (const b of certs) parseCertificate(b.der);
    } catch (e) {
      throw invalid("estConfig.caChain", (e as Error).message);
    }
    chain = caChain;
  } else if (caChain === null || caChain === "") chain = undefined;
  return {
    disableBootstrapCaValidation: bool(dto.disableBootstrapCaValidation, "estConfig.disableBootstrapCaValidation", stored?.disableBootstrapCaValidation ?? false),
    passphraseHash: typeof passphrase === "string" ? await hashPassword(passphrase) : stored!.passphraseHash,
    ...(chain && { caChain: chain }),
  };
};

const resolveAcmeConfig = (dto: Record<string, unknown>, stored: StoredAcmeConfig | undefined): StoredAcmeConfig => {
  const c = {
    skipDnsOwnershipVerification: bool(dto.skipDnsOwnershipVerification, "acmeConfig.skipDnsOwnershipVerification", stored?.skipDnsOwnershipVerification ?? false),
    skipEabBinding: bool(dto.skipEabBinding, "acmeConfig.skipEabBinding", stored?.skipEabBinding ?? false),
  };
  // Both skipped would hand any name to anyone who can reach the server.
  if (c.skipDnsOwnershipVerification && c.skipEabBinding) throw invalid("acmeConfig", "skipDnsOwnershipVerification and skipEabBinding cannot both be true");
  return c;
};

const SUBJECT_DEFAULTS = ["commonName", "organization", "organizationalUnit", "country", "state", "locality"] as const;

/**
 * A profile's `defaults` (api.md 7.6) fill in every request that leaves a value out, so a wrong one would fail
 * (or quietly not apply to) every issuance of the profile: each is checked when the profile is written, against
 * the issuer's key and the policy's longest validity. Names are stored as given (either spelling).
 */
const checkDefaults = (d: unknown, issuerKey: KeyAlgorithm | undefined, policyMax: string | undefined): void => {
  if (d === null || d === undefined) return;
  if (typeof d !== "object" || Array.isArray(d)) throw invalid("defaults", "must be an object or null");
  const o = d as Record<string, unknown>;
  const at = (k: string) => `defaults.${k}`;
  const list = (k: string) => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw invalid(at(k), "must be a list of strings");
    return v as string[];
  };
  // The shared checks throw "field: message"; as a 422 the field goes into the issue's path.
  const rethrow = <T>(field: string, f: () => T): T => {
    try { return f(); } catch (e) { throw invalid(field, (e as Error).message.replace(`${field}: `, "")); }
  };
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  if (o.ttlDays !== undefined && o.ttlDays !== null) {
    if (typeof o.ttlDays !== "number" || !Number.isInteger(o.ttlDays) || o.ttlDays < 1) throw invalid(at("ttlDays"), `must be a whole number of days, 1 or more (got ${JSON.stringify(o.ttlDays)})`);
    if (policyMax) {
      const now = Date.now();
      if (now + o.ttlDays * 86_400_000 > addPolicyDuration(now, parsePolicyDuration(policyMax)))
        throw invalid(at("ttlDays"), `${o.ttlDays} days exceeds the policy's maximum validity ${policyMax}`);
    }
  }
  for (const k of SUBJECT_DEFAULTS) {
    if (typeof o[k] === "string") rethrow(at(k), () => validateSubject({ [k]: o[k] } as SubjectFields, "defaults"));
    else if (o[k] !== undefined && o[k] !== null) throw invalid(at(k), "must be a string or null");
  }
  const keyUsages = list("keyUsages");
  if (keyUsages) rethrow(at("keyUsages"), () => normalizeKeyUsages(keyUsages, at("keyUsages")));
  const ekus = list("extendedKeyUsages");
  if (ekus) rethrow(at("extendedKeyUsages"), () => normalizeExtendedKeyUsages(ekus, at("extendedKeyUsages")));
  const keyAlg = o.keyAlgorithm === undefined || o.keyAlgorithm === null ? undefined
    : rethrow(at("keyAlgorithm"), () => requireKeyAlgorithm(text(o.keyAlgorithm), at("keyAlgorithm")));
  if (o.signatureAlgorithm !== undefined && o.signatureAlgorithm !== null) {
    const sig = rethrow(at("signatureAlgorithm"), () => requireSignatureAlgorithm(text(o.signatureAlgorithm), at("signatureAlgorithm")));
    // A CA signs with its own key; a self-signed certificate with the key it certifies.
    if (issuerKey) rethrow(at("signatureAlgorithm"), () => assertSignatureCompatible(sig, issuerKey, at("signatureAlgorithm")));
    else if (keyAlg && signatureFamily(sig) !== keyFamily(keyAlg))
      throw invalid(at("signatureAlgorithm"), `${sig} cannot be made by the self-signed certificate's own ${keyAlg} key (defaults.keyAlgorithm)`);
  }
  const bc = o.basicConstraints;
  if (bc !== undefined && bc !== null) {
    if (typeof bc !== "object" || Array.isArray(bc)) throw invalid(at("basicConstraints"), "must be an object {isCA, pathLength?}");
    const { isCA, pathLength } = bc as Record<string, unknown>;
    if (typeof isCA !== "boolean") throw invalid(at("basicConstraints.isCA"), "must be a boolean");
    if (pathLength !== undefined && pathLength !== null && (typeof pathLength !== "number" || !Number.isInteger(pathLength) || pathLength < 0))
      throw invalid(at("basicConstraints.pathLength"), "must be a whole number, 0 or more");
  }
};

export const profileServiceFactory = ({ store, access, audit, clock, publicUrl }: Deps) => {
  const view = (p: CertificateProfileTable) => ({
    id: p.id, projectId: p.project_id, caId: p.ca_id, certificatePolicyId: p.policy_id, certificateTemplateId: p.policy_id, slug: p.slug,
    description: p.description, enrollmentType: p.enrollment_type, issuerType: p.issuer_type,
    apiConfigId: p.api_config ? p.id : null, estConfigId: p.est_config ? p.id : null, acmeConfigId: p.acme_config ? p.id : null,
    externalConfigs: null, defaults: p.defaults ? JSON.parse(p.defaults) : null, createdAt: p.created_at, updatedAt: p.updated_at,
  });

  const detailedView = async (p: CertificateProfileTable) => {
    const ca = p.ca_id ? await store.getCa(p.ca_id) : undefined;
    const policy = await store.getPolicy(p.policy_id);
    const api = p.api_config ? JSON.parse(p.api_config) : null;
    return {
      ...view(p),
      certificateAuthority: ca ? { id: ca.id, projectId: ca.project_id, status: ca.status, name: ca.name, isExternal: ca.type !== "internal", externalType: ca.type === "internal" ? null : ca.type } : null,
      certificatePolicy: policy ? { id: policy.id, projectId: policy.project_id, name: policy.name, description: policy.description } : null,
      apiConfig: api ? { id: p.id, autoRenew: !!api.autoRenew, renewBeforeDays: api.renewBeforeDays ?? null } : null,
      estConfig: p.est_config ? estView(p) : null,
      acmeConfig: p.acme_config ? { id: p.id, ...(JSON.parse(p.acme_config) as StoredAcmeConfig), ...(publicUrl && { directoryUrl: publicUrl() + acmeDirectoryPath(p.id) }) } : null,
    };
  };

  const estView = (p: CertificateProfileTable) => {
    const c = JSON.parse(p.est_config!) as StoredEstConfig;
    return { id: p.id, disableBootstrapCaValidation: c.disableBootstrapCaValidation, caChain: c.caChain ?? null };
  };

  const load = async (id: string) => {
    const p = await store.getProfile(id);
    if (!p) throw new NotFoundError(`Certificate profile with ID ${id} not found`);
    return p;
  };

  /** Checks the issuer and enrollment settings fit together (api.md 7.5): a config for another enrollment type is a 422. */
  const checkShape = async (projectId: string, enrollment: string, issuer: string, caId: string | null | undefined, dto: Partial<ProfileDto>, stored?: CertificateProfileTable) => {
    if (!(ENROLLMENT_TYPES as readonly string[]).includes(enrollment)) throw invalid("enrollmentType", `must be one of ${ENROLLMENT_TYPES.join(", ")}`);
    if (!(ISSUER_TYPES as readonly string[]).includes(issuer)) throw invalid("issuerType", `must be one of ${ISSUER_TYPES.join(", ")}`);
    if (issuer === "ca" && !caId) throw invalid("caId", 'is required when issuerType is "ca"');
    if (issuer === "self-signed" && caId) throw invalid("caId", 'must be omitted when issuerType is "self-signed"');
    if (issuer === "self-signed" && enrollment !== "api") throw invalid("issuerType", 'self-signed profiles only support enrollmentType "api"');
    for (const [type, key] of [["api", "apiConfig"], ["est", "estConfig"], ["acme", "acmeConfig"]] as const)
      if (dto[key] && enrollment !== type) throw invalid(key, `only applies to enrollmentType "${type}"`);
    if (enrollment === "est" && !dto.estConfig && !stored?.est_config) throw invalid("estConfig", 'is required when enrollmentType is "est" (at least a passphrase)');
    if (dto.apiConfig?.renewBeforeDays !== undefined && (dto.apiConfig.renewBeforeDays < 1 || dto.apiConfig.renewBeforeDays > 30))
      throw invalid("apiConfig.renewBeforeDays", "must be between 1 and 30");
    if (caId) {
      const ca = await store.getCa(caId);
      if (!ca || ca.project_id !== projectId) throw new NotFoundError(`Certificate authority with ID ${caId} not found in this project`);
      // ACME and EST clients expect their certificate in the same exchange; an external CA answers later.
      if (ca.type !== "internal" && enrollment !== "api")
        throw new BadRequestError(`caId: '${ca.name}' is an external ${ca.type} CA, which issues asynchronously; only enrollmentType "api" can use it`);
    }
  };

  /** checkDefaults with what the profile issues from: the CA's key (none for self-signed or an external CA) and the policy's maximum. */
  const checkDefaultsFor = async (defaults: unknown, caId: string | null | undefined, policyId: string) => {
    const ca = caId ? await store.getCa(caId) : undefined;
    const keyAlgorithm = ca?.type === "internal" ? (JSON.parse(ca.configuration) as { keyAlgorithm?: string }).keyAlgorithm : undefined;
    const policy = await store.getPolicy(policyId);
    checkDefaults(defaults, keyAlgorithm && isKeyAlgorithm(keyAlgorithm) ? keyAlgorithm : undefined, policy ? normalizePolicy(JSON.parse(policy.rules)).validity?.max : undefined);
  };

  const create = async (actor: Actor, dto: ProfileDto) => {
    await access.requireProject(actor, dto.projectId, "admin");
    const policyId = dto.certificatePolicyId ?? dto.certificateTemplateId;
    if (!policyId) throw invalid("certificatePolicyId", "is required");
    const policy = await store.getPolicy(policyId);
    if (!policy || policy.project_id !== dto.projectId) throw new NotFoundError(`Certificate policy with ID ${policyId} not found in this project`);
    if (!SLUG.test(dto.slug) || dto.slug.length > 255) throw new BadRequestError(`slug: "${dto.slug}" must be lower-case letters, digits and dashes`);
    if (await store.getProfileBySlug(dto.projectId, dto.slug)) throw new BadRequestError(`A certificate profile with slug '${dto.slug}' already exists in this project`);
    const enrollment = dto.enrollmentType ?? "api";
    const issuer = dto.issuerType ?? "ca";
    await checkShape(dto.projectId, enrollment, issuer, dto.caId, dto);
    await checkDefaultsFor(dto.defaults, issuer === "ca" ? dto.caId : null, policyId);
    const now = isoNow(clock);
    const row: CertificateProfileTable = {
      id: newId(), project_id: dto.projectId, ca_id: issuer === "ca" ? dto.caId! : null, policy_id: policyId, slug: dto.slug,
      description: dto.description ?? null, enrollment_type: enrollment, issuer_type: issuer,
      api_config: enrollment === "api" ? JSON.stringify({ autoRenew: dto.apiConfig?.autoRenew ?? false, renewBeforeDays: dto.apiConfig?.renewBeforeDays }) : null,
      est_config: enrollment === "est" ? JSON.stringify(await resolveEstConfig(dto.estConfig ?? {}, undefined)) : null,
      acme_config: enrollment === "acme" ? JSON.stringify(resolveAcmeConfig(dto.acmeConfig ?? {}, undefined)) : null,
      defaults: dto.defaults ? JSON.stringify(dto.defaults) : null, created_at: now, updated_at: now,
    };
    await store.insertProfile(row);
    await audit.record(actor, { action: "create-certificate-profile", resourceType: "certificate-profile", resourceId: row.id, projectId: dto.projectId, metadata: { slug: dto.slug } });
    return view(row);
  };

  const get = async (actor: Actor, id: string) => {
    const p = await load(id);
    await access.requireProject(actor, p.project_id, "viewer");
    return detailedView(p);
  };

  /** What the cert agent does: profile by slug, in a project by id, or anywhere in the caller's organization. */
  const getBySlug = async (actor: Actor, slug: string, projectId?: string) => {
    if (projectId) {
      await access.requireProject(actor, projectId, "viewer");
      const p = await store.getProfileBySlug(projectId, slug);
      if (!p) throw new NotFoundError(`Certificate profile with slug '${slug}' not found`);
      return view(p);
    }
    // Without a project, the slug must name one profile among the projects the caller can read: picking the
    // first of several would issue from whichever CA the database happened to list first.
    const readable: { profile: (typeof found)[number]; projectSlug: string }[] = [];
    const found = await store.findProfilesBySlugInOrg(actor.orgId, slug);
    for (const p of found) {
      try {
        readable.push({ profile: p, projectSlug: (await access.requireProject(actor, p.project_id, "viewer")).slug });
      } catch { /* not this caller's project: keep looking */ }
    }
    if (readable.length === 1) return view(readable[0]!.profile);
    if (readable.length > 1) {
      const projects = readable.map((r) => `'${r.projectSlug}'`).sort().join(", ");
      throw new BadRequestError(`Certificate profile slug '${slug}' exists in several of your projects (${projects}): name the project (projectId)`);
    }
    throw new NotFoundError(`Certificate profile with slug '${slug}' not found`);
  };

  const list = async (actor: Actor, projectId: string, q: { offset?: number; limit?: number; search?: string; enrollmentType?: string; issuerType?: string; caId?: string }) => {
    await access.requireProject(actor, projectId, "viewer");
    const all = await store.listProfiles(projectId, q);
    const offset = q.offset ?? 0;
    return { certificateProfiles: all.slice(offset, offset + (q.limit ?? 20)).map(view), totalCount: all.length };
  };

  const update = async (actor: Actor, id: string, dto: Partial<ProfileDto>) => {
    const p = await load(id);
    await access.requireProject(actor, p.project_id, "admin");
    const patch: Partial<CertificateProfileTable> = { updated_at: isoNow(clock) };
    if (dto.slug !== undefined && dto.slug !== p.slug) {
      if (!SLUG.test(dto.slug)) throw new BadRequestError(`slug: "${dto.slug}" must be lower-case letters, digits and dashes`);
      if (await store.getProfileBySlug(p.project_id, dto.slug)) throw new BadRequestError(`A certificate profile with slug '${dto.slug}' already exists in this project`);
      patch.slug = dto.slug;
    }
    const policyId = dto.certificatePolicyId ?? dto.certificateTemplateId;
    if (policyId !== undefined) {
      const policy = await store.getPolicy(policyId);
      if (!policy || policy.project_id !== p.project_id) throw new NotFoundError(`Certificate policy with ID ${policyId} not found in this project`);
      patch.policy_id = policyId;
    }
    if (dto.description !== undefined) patch.description = dto.description;
    if (dto.defaults !== undefined) patch.defaults = dto.defaults ? JSON.stringify(dto.defaults) : null;
    const issuer = dto.issuerType ?? p.issuer_type;
    const caId = dto.caId !== undefined ? dto.caId : p.ca_id;
    if (dto.apiConfig || dto.estConfig || dto.acmeConfig) await checkShape(p.project_id, p.enrollment_type, issuer, caId, dto, p);
    if (dto.apiConfig) patch.api_config = JSON.stringify({ ...(p.api_config ? JSON.parse(p.api_config) : {}), ...dto.apiConfig });
    if (dto.estConfig) patch.est_config = JSON.stringify(await resolveEstConfig(dto.estConfig, p.est_config ? JSON.parse(p.est_config) : undefined));
    if (dto.acmeConfig) patch.acme_config = JSON.stringify(resolveAcmeConfig(dto.acmeConfig, p.acme_config ? JSON.parse(p.acme_config) : undefined));
    if (dto.issuerType !== undefined || dto.caId !== undefined) {
      await checkShape(p.project_id, p.enrollment_type, issuer, caId, dto, p);
      patch.issuer_type = issuer;
      patch.ca_id = issuer === "ca" ? caId : null;
    }
    if (dto.defaults !== undefined || patch.ca_id !== undefined || patch.policy_id !== undefined)
      await checkDefaultsFor(dto.defaults !== undefined ? dto.defaults : p.defaults ? JSON.parse(p.defaults) : null, patch.ca_id !== undefined ? patch.ca_id : p.ca_id, patch.policy_id ?? p.policy_id);
    await store.updateProfile(id, patch);
    await audit.record(actor, { action: "update-certificate-profile", resourceType: "certificate-profile", resourceId: id, projectId: p.project_id });
    return view({ ...p, ...patch });
  };

  const remove = async (actor: Actor, id: string) => {
    const p = await load(id);
    await access.requireProject(actor, p.project_id, "admin");
    await store.deleteProfile(id);
    await audit.record(actor, { action: "delete-certificate-profile", resourceType: "certificate-profile", resourceId: id, projectId: p.project_id });
    return view(p);
  };

  return { load, create, get, getBySlug, list, update, remove };
};
export type ProfileService = ReturnType<typeof profileServiceFactory>;
