import { generateKeyPairSync } from "node:crypto";
import type { Clock } from "../../clock.js";
import type { Actor } from "../../actor.js";
import { BadRequestError, NotFoundError, UpstreamError } from "../../errors.js";
import { newId } from "../../ids.js";
import { isoAt, isoNow } from "../../time.js";
import { exportPrivateKeyPem, generateKeyPair, type KeyAlgorithm } from "../../../crypto/keys.js";
import type { PkiStore } from "../../../store/pki.js";
import type { ExternalCaStore } from "../../../store/external-ca.js";
import type { CertificateAuthorityTable, CertificateProfileTable, ExternalCaTable } from "../../../store/schema.js";
import type { AuditService } from "../../audit/audit-service.js";
import type { ProjectAccess } from "../../projects/access.js";
import type { ProjectKeys } from "../../projects/project-keys.js";
import type { CertificateContents } from "../contents.js";
import type { SubjectAltName } from "../san.js";
import { buildOrderCsr } from "./csr.js";
import { DnsProviderConfig, type DnsSecrets } from "./dns/index.js";
import { acmeClient, type AcmeIdentifier } from "./acme-client.js";
import { loadPrivateKey } from "../../../crypto/keys.js";
import { fromPem } from "../../../crypto/der/pem.js";
import type { CertificateTable } from "../../../store/schema.js";

export const CHALLENGE_TYPES = ["http-01", "dns-01"] as const;
export type ChallengeType = (typeof CHALLENGE_TYPES)[number];

export interface CreateAcmeCaDto {
  projectId: string; name: string; directoryUrl: string; accountEmail: string;
  eabKid?: string; eabHmacKey?: string; challengeType?: ChallengeType;
  /** Provider settings plus its secret (`tsigSecret`), which is split off and sealed. */
  dnsProvider?: Record<string, unknown>;
  caBundle?: string; orderTimeoutSeconds?: number;
}

/** What the account key, EAB key and DNS secret look like once unsealed. */
export interface ExternalCaSecrets { accountKey: string; eabHmacKey?: string; dns?: DnsSecrets }

/** What an order row remembers about the certificate to come (JSON in external_orders.details). */
export interface OrderDetails {
  certificateId: string; identifiers: AcmeIdentifier[]; keyAlgorithm: KeyAlgorithm | null; commonName: string;
  /** The request as a renewal repeats it (certificate-service's StoredRequest). */
  storedRequest: unknown; renewedFromId: string | null;
  /** TXT records published for dns-01, removed when the order is decided. */
  dnsRecords?: { fqdn: string; value: string }[];
  lastError?: string; lastStatus?: string; attempts?: number;
}

type Deps = {
  store: ExternalCaStore;
  pki: Pick<PkiStore, "getCa" | "getCaByName">;
  access: Pick<ProjectAccess, "requireProject">;
  keys: Pick<ProjectKeys, "encrypt" | "decryptText">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
};

export const secretsPurpose = (caId: string) => `external-ca-secrets:${caId}`;
export const certificateKeyPurpose = (certId: string) => `certificate-private-key:${certId}`;
const DEFAULT_TIMEOUT_S = 1800;

/** An external CA's secrets unsealed, an ACME client on its account key, and what ensureAccount() needs. */
export const openUpstream = async (ext: ExternalCaTable, keys: Pick<ProjectKeys, "decryptText">) => {
  const secrets = JSON.parse(await keys.decryptText(ext.project_id, ext.encrypted_secrets, secretsPurpose(ext.ca_id))) as ExternalCaSecrets;
  const client = acmeClient({ directoryUrl: ext.directory_url, accountKey: loadPrivateKey(secrets.accountKey), caBundle: ext.ca_bundle ?? undefined, accountUrl: ext.account_url });
  const account = { email: ext.account_email, ...(ext.eab_kid && secrets.eabHmacKey && { eab: { kid: ext.eab_kid, hmacKey: secrets.eabHmacKey } }) };
  return { secrets, client, account };
};

/** ACME validates DNS names and IP addresses only (RFC 8555 9.7.7, RFC 8738); other SAN types cannot be ordered. */
export const identifiersOf = (subject: { commonName?: string }, sans: readonly SubjectAltName[]): AcmeIdentifier[] => {
  const ids = new Map<string, AcmeIdentifier>();
  for (const s of sans) {
    if (s.type === "dns_name") ids.set(`dns:${s.value.toLowerCase()}`, { type: "dns", value: s.value.toLowerCase() });
    else if (s.type === "ip_address") ids.set(`ip:${s.value}`, { type: "ip", value: s.value });
    else throw new BadRequestError(`attributes.altNames: an ACME CA cannot validate ${s.type} names ("${s.value}"); use dns_name or ip_address`);
  }
  const cn = subject.commonName?.toLowerCase();
  if (cn && !ids.has(`dns:${cn}`) && !ids.has(`ip:${cn}`)) ids.set(`dns:${cn}`, { type: "dns", value: cn });
  if (!ids.size) throw new BadRequestError("attributes: an ACME CA needs at least one DNS name (commonName or altNames)");
  return [...ids.values()];
};

/**
 * Whether the CA record's challenge can prove every identifier, checked before anything is ordered: a wildcard
 * can only be validated with dns-01 and an IP address never with it (RFC 8555 7.1.3, RFC 8738 7), and dns-01
 * records can only be published inside the DNS provider's zone. Otherwise the order would be placed and fail later.
 */
export const checkChallengeFits = (ext: Pick<ExternalCaTable, "challenge_type" | "dns_config">, caName: string, identifiers: readonly AcmeIdentifier[], field: string) => {
  const zone = ext.dns_config ? (JSON.parse(ext.dns_config) as { zone?: string }).zone?.replace(/\.$/, "").toLowerCase() : undefined;
  for (const id of identifiers) {
    if (ext.challenge_type === "http-01" && id.type === "dns" && id.value.startsWith("*."))
      throw new BadRequestError(`${field}: "${id.value}" is a wildcard, which ACME validates only with dns-01; ACME CA '${caName}' uses http-01`);
    if (ext.challenge_type !== "dns-01") continue;
    if (id.type === "ip") throw new BadRequestError(`${field}: ACME cannot validate the IP address ${id.value} with dns-01, which ACME CA '${caName}' uses`);
    const name = id.value.replace(/^\*\./, "");
    if (zone !== undefined && name !== zone && !name.endsWith(`.${zone}`))
      throw new BadRequestError(`${field}: "${id.value}" is not in the zone ${zone} where ACME CA '${caName}' publishes its dns-01 records`);
  }
};

export const externalCaServiceFactory = ({ store, pki, access, keys, audit, clock }: Deps) => {
  const internal = new Set<string>();
  const view = (ca: CertificateAuthorityTable, ext: ExternalCaTable) => ({
    id: ca.id, projectId: ca.project_id, name: ca.name, type: ca.type, status: ca.status, isExternal: true, externalType: ca.type,
    configuration: {
      directoryUrl: ext.directory_url, accountEmail: ext.account_email, accountUrl: ext.account_url, eabKid: ext.eab_kid,
      challengeType: ext.challenge_type, dnsProvider: ext.dns_config ? JSON.parse(ext.dns_config) : null,
      caBundle: ext.ca_bundle, orderTimeoutSeconds: ext.order_timeout_seconds,
    },
    createdAt: ca.created_at, updatedAt: ca.updated_at,
  });

  const createAcmeCa = async (actor: Actor, dto: CreateAcmeCaDto) => {
    await access.requireProject(actor, dto.projectId, "admin");
    if (await pki.getCaByName(dto.projectId, dto.name))
      throw new BadRequestError(`A certificate authority named '${dto.name}' already exists in this project`);
    let url: URL;
    try { url = new URL(dto.directoryUrl); } catch { throw new BadRequestError(`directoryUrl: "${dto.directoryUrl}" is not a URL`); }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new BadRequestError("directoryUrl: must be an https (or, for a test server, http) URL");
    if (!!dto.eabKid !== !!dto.eabHmacKey) throw new BadRequestError("eabKid and eabHmacKey: give both or neither");
    const challengeType = dto.challengeType ?? (dto.dnsProvider ? "dns-01" : "http-01");
    const { tsigSecret, ...dnsSettings } = dto.dnsProvider ?? {};
    let dnsConfig: DnsProviderConfig | null = null;
    if (dto.dnsProvider && challengeType !== "dns-01") throw new BadRequestError(`dnsProvider: only used with challengeType "dns-01", not "${challengeType}"`);
    if (challengeType === "dns-01") {
      if (!dto.dnsProvider) throw new BadRequestError('dnsProvider: required when challengeType is "dns-01"');
      const parsed = DnsProviderConfig.safeParse(dnsSettings);
      if (!parsed.success) throw new BadRequestError(`dnsProvider: ${parsed.error.issues.map((i) => `${i.path.join(".") || (i.code === "unrecognized_keys" ? i.keys.join(", ") : "type")}: ${i.message}`).join("; ")}`);
      dnsConfig = parsed.data;
      if ("tsigKeyName" in dnsConfig && dnsConfig.tsigKeyName && !tsigSecret) throw new BadRequestError("dnsProvider.tsigSecret: required when tsigKeyName is set");
      if (tsigSecret !== undefined && (typeof tsigSecret !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(tsigSecret)))
        throw new BadRequestError("dnsProvider.tsigSecret: must be the base64 secret of the TSIG key (as tsig-keygen prints it)");
    }
    if (dto.caBundle !== undefined && !/-----BEGIN CERTIFICATE-----/.test(dto.caBundle)) throw new BadRequestError("caBundle: expected PEM certificates");
    const id = newId();
    const stamp = isoNow(clock);
    // The account key is ours for the life of the CA record: P-256, ES256 being what every ACME server accepts.
    const accountKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const secrets: ExternalCaSecrets = {
      accountKey: exportPrivateKeyPem(accountKey), ...(dto.eabHmacKey && { eabHmacKey: dto.eabHmacKey }),
      ...(typeof tsigSecret === "string" && { dns: { tsigSecret } }),
    };
    const ca: CertificateAuthorityTable = {
      id, project_id: dto.projectId, name: dto.name, type: "acme", status: "active", disable_direct_issuance: 1,
      configuration: JSON.stringify({ directoryUrl: dto.directoryUrl, accountEmail: dto.accountEmail }),
      encrypted_private_key: "", active_ca_cert_id: null, created_at: stamp, updated_at: stamp,
    };
    const ext: ExternalCaTable = {
      ca_id: id, project_id: dto.projectId, directory_url: dto.directoryUrl, account_email: dto.accountEmail, account_url: null,
      encrypted_secrets: await keys.encrypt(dto.projectId, JSON.stringify(secrets), secretsPurpose(id)), eab_kid: dto.eabKid ?? null,
      challenge_type: challengeType, dns_config: dnsConfig ? JSON.stringify(dnsConfig) : null, ca_bundle: dto.caBundle ?? null,
      order_timeout_seconds: dto.orderTimeoutSeconds ?? DEFAULT_TIMEOUT_S, created_at: stamp, updated_at: stamp,
    };
    await store.insertCa(ca, ext);
    await audit.record(actor, { action: "create-ca", resourceType: "certificate-authority", resourceId: id, projectId: dto.projectId, metadata: { name: dto.name, type: "acme", directoryUrl: dto.directoryUrl } });
    return view(ca, ext);
  };

  const listRows = async (projectId: string) => {
    const rows = await store.listCas(projectId);
    const out: { ca: CertificateAuthorityTable; ext: ExternalCaTable }[] = [];
    for (const ext of rows) { const ca = await pki.getCa(ext.ca_id); if (ca) out.push({ ca, ext }); }
    return out;
  };
  const list = async (actor: Actor, projectId: string) => {
    await access.requireProject(actor, projectId, "viewer");
    return (await listRows(projectId)).map((r) => view(r.ca, r.ext));
  };
  const get = async (actor: Actor, caId: string) => {
    const [ca, ext] = [await pki.getCa(caId), await store.getCa(caId)];
    if (!ca || !ext) throw new NotFoundError(`External certificate authority with ID ${caId} not found`);
    await access.requireProject(actor, ca.project_id, "viewer");
    return view(ca, ext);
  };

  /** The external CA behind a profile, or undefined when the profile issues from an internal CA or self-signs. */
  const forProfile = async (profile: CertificateProfileTable) => {
    if (profile.issuer_type !== "ca" || !profile.ca_id || internal.has(profile.ca_id)) return undefined;
    const ext = await store.getCa(profile.ca_id);
    // A CA never changes kind, so internal ones are remembered: issuance from them costs no extra query (hot path).
    if (!ext) { if (internal.size > 10_000) internal.clear(); internal.add(profile.ca_id); }
    return ext;
  };

  /**
   * Records an asynchronous request after the policy check passed: the key (unless the client sent a CSR) and the
   * CSR are made now, so the worker only talks to the CA. Answers api.md 7.6 with `certificate: null`.
   */
  const submit = async (ext: ExternalCaTable, profile: CertificateProfileTable, r: {
    contents: CertificateContents; csrPem?: string; keyAlgorithm: KeyAlgorithm | null; attributes: unknown; storedRequest: unknown; renewedFromId: string | null;
  }) => {
    const ca = await pki.getCa(ext.ca_id);
    if (!ca || ca.status !== "active") throw new BadRequestError(`Certificate authority '${ca?.name ?? ext.ca_id}' is ${ca?.status ?? "missing"}, not active`);
    const identifiers = identifiersOf(r.contents.subject, r.contents.sans);
    checkChallengeFits(ext, ca.name, identifiers, r.csrPem ? "csr" : "attributes");
    const certificateId = newId();
    const requestId = newId();
    let csr = r.csrPem;
    let sealedKey: string | null = null;
    if (!csr) {
      const kp = await generateKeyPair(r.keyAlgorithm!);
      csr = (await buildOrderCsr({ subject: r.contents.subject, sans: r.contents.sans, privateKey: kp.privateKey, spkiDer: kp.spkiDer, keyAlgorithm: r.keyAlgorithm! })).pem;
      sealedKey = await keys.encrypt(profile.project_id, exportPrivateKeyPem(kp.privateKey), certificateKeyPurpose(certificateId));
    }
    const now = clock.now();
    const stamp = isoAt(now);
    const details: OrderDetails = {
      certificateId, identifiers, keyAlgorithm: r.keyAlgorithm, commonName: r.contents.subject.commonName ?? identifiers[0]!.value,
      storedRequest: r.storedRequest, renewedFromId: r.renewedFromId,
    };
    await store.insertPending(
      { id: requestId, project_id: profile.project_id, profile_id: profile.id, status: "pending", certificate_id: null, error_message: null, attributes: JSON.stringify(r.attributes), created_at: stamp, updated_at: stamp },
      { request_id: requestId, ca_id: ext.ca_id, project_id: profile.project_id, profile_id: profile.id, state: "new", order_url: null, csr, encrypted_private_key: sealedKey,
        details: JSON.stringify(details), deadline: isoAt(now + ext.order_timeout_seconds * 1000), next_attempt_at: stamp, lock_until: null, created_at: stamp, updated_at: stamp },
    );
    return { certificate: null, certificateRequestId: requestId, status: "pending" as const, message: `Certificate requested from ACME CA '${ca.name}'; poll the certificate request for the result` };
  };

  /** The key authorization for an http-01 token this server is answering (RFC 8555 8.3), or undefined. */
  const httpChallenge = async (token: string) => (await store.getHttpChallenge(token))?.key_authorization;

  /**
   * Revokes at the external CA a certificate ordered from it (RFC 8555 7.6), before we mark it revoked: a
   * certificate revoked only in our inventory would stay valid everywhere that trusts that CA. Returns false
   * for a certificate that was not ordered from an external CA (or whose CA record was deleted since, so there
   * is no account to ask with); throws UpstreamError, and nothing changes, when the CA fails or refuses.
   */
  const revokeUpstream = async (cert: Pick<CertificateTable, "id" | "certificate" | "serial_number">, reasonCode: number): Promise<boolean> => {
    const caId = await store.caOfCertificate(cert.id);
    const ext = caId ? await store.getCa(caId) : undefined;
    const ca = caId ? await pki.getCa(caId) : undefined;
    if (!ext || !ca) return false;
    const { client, account } = await openUpstream(ext, keys);
    try {
      await client.ensureAccount(account);
      await client.revokeCertificate(fromPem(cert.certificate, ["CERTIFICATE"]).der, reasonCode);
    } catch (e) {
      throw new UpstreamError(`ACME CA '${ca.name}' did not revoke certificate ${cert.serial_number}: ${(e as Error).message}`);
    }
    return true;
  };

  return { createAcmeCa, list, get, forProfile, submit, httpChallenge, revokeUpstream };
};
export type ExternalCaService = ReturnType<typeof externalCaServiceFactory>;
