import type { Clock } from "../clock.js";
import type { Actor } from "../actor.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import { exportPrivateKeyPem, generateKeyPair, isKeyAlgorithm, type KeyAlgorithm, loadPrivateKey, spkiDerOf } from "../../crypto/keys.js";
import { certificateBlocks, joinPemBlocks, toPem } from "../../crypto/der/pem.js";
import { X509Certificate, createPublicKey } from "node:crypto";
import type { PkiStore } from "../../store/pki.js";
import type { CaCertificateTable, CertificateAuthorityTable } from "../../store/schema.js";
import type { CaState } from "../../store/pki.js";
import type { AuditService } from "../audit/audit-service.js";
import type { ProjectAccess } from "../projects/access.js";
import type { ProjectKeys } from "../projects/project-keys.js";
import { createCaCsr, createIntermediateCa, createRootCa, signIntermediate, type CreatedCa } from "./ca.js";
import { parseCertificate } from "./certificate.js";
import { prepareIssuer, type IssuerContext } from "./issuer.js";
import { formatDn, type SubjectFields } from "./name.js";
import type { CrlRows } from "./crl-service.js";
import { addPolicyDuration } from "./policy-rules.js";
import { isRevocationReason, REVOCATION_REASONS, revocationReasonCode } from "./algorithms.js";

export const CA_STATUSES = ["active", "disabled", "pending-certificate"] as const;

/** The `configuration` object of api.md 7.2, as stored (JSON) and returned. */
export interface CaConfiguration {
  type: "root" | "intermediate";
  friendlyName: string; commonName: string; organization: string; ou: string; country: string; province: string; locality: string;
  notBefore: string | null; notAfter: string | null; maxPathLength: number; keyAlgorithm: KeyAlgorithm; dn: string;
  parentCaId: string | null; serialNumber: string | null; activeCaCertId: string | null;
}

export interface CreateCaDto {
  projectId: string; name: string; status: string; disableDirectIssuance?: boolean; enableDirectIssuance?: boolean;
  configuration: {
    type: "root" | "intermediate"; commonName: string; organization: string; ou: string; country: string; province: string; locality: string;
    friendlyName?: string; keyAlgorithm: string; notBefore?: string; notAfter?: string; maxPathLength?: number | null; parentCaId?: string;
  };
}

type Deps = {
  store: PkiStore;
  access: Pick<ProjectAccess, "requireProject">;
  keys: Pick<ProjectKeys, "encrypt" | "decryptText">;
  crls: CrlRows;
  audit: Pick<AuditService, "record">;
  clock: Clock;
  publicUrl: () => string;
  /** Re-signs a CA's CRL (the CRL service, built after this one, so given late). */
  regenerateCrl: (caId: string) => Promise<unknown>;
};

const subjectOf = (c: { commonName: string; organization: string; ou: string; country: string; province: string; locality: string }): SubjectFields => ({
  commonName: c.commonName || undefined, organization: c.organization || undefined, organizationalUnit: c.ou || undefined,
  country: c.country || undefined, state: c.province || undefined, locality: c.locality || undefined,
});

export const caServiceFactory = ({ store, access, keys, crls, audit, clock, publicUrl, regenerateCrl }: Deps) => {
  /**
   * Issuer contexts are built once per active CA certificate; they hold the parsed private key, and the CA
   * certificate row itself (rows of ca_certificates never change: a renewal adds a version), so an issuance
   * reads only the CA row, for its status.
   */
  const issuers = new Map<string, { issuer: IssuerContext; caCert: CaCertificateTable }>();
  const keyPurpose = (caId: string) => `ca-private-key:${caId}`;

  const view = (ca: CertificateAuthorityTable) => {
    const configuration = JSON.parse(ca.configuration) as CaConfiguration;
    return {
      id: ca.id, projectId: ca.project_id, name: ca.name, type: ca.type, status: ca.status,
      disableDirectIssuance: !!ca.disable_direct_issuance, enableDirectIssuance: !ca.disable_direct_issuance,
      configuration: { ...configuration, activeCaCertId: ca.active_ca_cert_id }, createdAt: ca.created_at, updatedAt: ca.updated_at,
    };
  };

  const loadCa = async (caId: string) => {
    const ca = await store.getCa(caId);
    if (!ca) throw new NotFoundError(`Certificate authority with ID ${caId} not found`);
    return ca;
  };
  const requireCa = async (actor: Actor, caId: string, role: "viewer" | "member" | "admin") => {
    const ca = await loadCa(caId);
    await access.requireProject(actor, ca.project_id, role);
    return ca;
  };

  const privateKeyOf = async (ca: CertificateAuthorityTable) => loadPrivateKey(await keys.decryptText(ca.project_id, ca.encrypted_private_key, keyPurpose(ca.id)));

  const issuerUrls = async (ca: CertificateAuthorityTable, caCertId: string) => {
    const crl = await store.getCrlByCa(ca.id);
    const base = publicUrl();
    return {
      ...(crl && { crlDistributionPoints: [crls.crlUrl(crl.id)] }),
      caIssuers: [`${base}/api/v1/pki/ca/${ca.id}/certificates/${caCertId}/der`],
      ocsp: [`${base}/api/v1/pki/ocsp/${ca.id}`],
    };
  };

  type Signing = { issuer: IssuerContext; caCert: CaCertificateTable };
  /**
   * The signing context of a CA in the state given (cached by its active CA certificate). Issuance needs an
   * active CA; CRLs and OCSP answers are still signed for a disabled or revoked one, since its certificates
   * stay out there until they expire. `full` gives the whole row (the sealed key) the first time.
   */
  const signingFor = async (ca: CaState, opts: { forRevocation?: boolean }, full: () => Promise<CertificateAuthorityTable>): Promise<Signing> => {
    if (ca.status !== "active" && !(opts.forRevocation && (ca.status === "disabled" || ca.status === "revoked")))
      throw new BadRequestError(`Certificate authority '${ca.name}' is ${ca.status}, not active`);
    const cached = ca.active_ca_cert_id ? issuers.get(ca.active_ca_cert_id) : undefined;
    if (cached) return cached;
    const caCert = ca.active_ca_cert_id ? await store.getCaCertificate(ca.active_ca_cert_id) : undefined;
    if (!caCert) throw new BadRequestError(`Certificate authority '${ca.name}' has no certificate`);
    const row = await full();
    const issuer = prepareIssuer({ certificate: caCert.certificate, privateKey: await privateKeyOf(row), urls: await issuerUrls(row, caCert.id) });
    issuers.set(caCert.id, { issuer, caCert });
    return { issuer, caCert };
  };

  /** The signing context of a CA, read afresh. */
  const issuerFor = async (caId: string, opts: { forRevocation?: boolean } = {}): Promise<{ ca: CertificateAuthorityTable } & Signing> => {
    const ca = await loadCa(caId);
    return { ca, ...(await signingFor(ca, opts, async () => ca)) };
  };

  /**
   * Issuance's: the CA's state was read with the profile in the same query (store/pki.ts getIssuanceContext),
   * so a CA whose signing context is cached costs no query of its own.
   */
  const issuerOf = async (state: CaState): Promise<{ ca: CaState } & Signing> => ({ ca: state, ...(await signingFor(state, {}, () => loadCa(state.id))) });

  const forget = (ca: CertificateAuthorityTable) => { if (ca.active_ca_cert_id) issuers.delete(ca.active_ca_cert_id); };

  /** The chain a CA certificate hands to what it signs: itself, then its own chain up to the root. */
  const chainBelow = (caCert: Pick<CaCertificateTable, "certificate" | "certificate_chain">) =>
    joinPemBlocks([...certificateBlocks(caCert.certificate), ...certificateBlocks(caCert.certificate_chain)]);

  const caCertRow = (caId: string, version: number, pem: string, chain: string, serial: string, nb: Date, na: Date): CaCertificateTable => ({
    id: newId(), ca_id: caId, version, certificate: pem, certificate_chain: chain, serial_number: serial,
    not_before: nb.toISOString(), not_after: na.toISOString(), created_at: isoNow(clock),
  });

  const create = async (actor: Actor, dto: CreateCaDto) => {
    await access.requireProject(actor, dto.projectId, "admin");
    const c = dto.configuration;
    if (!isKeyAlgorithm(c.keyAlgorithm)) throw new BadRequestError(`configuration.keyAlgorithm: unknown key algorithm "${c.keyAlgorithm}"`);
    if (!(CA_STATUSES as readonly string[]).includes(dto.status)) throw new BadRequestError(`status: unknown CA status "${dto.status}"`);
    if (await store.getCaByName(dto.projectId, dto.name)) throw new BadRequestError(`A certificate authority named '${dto.name}' already exists in this project`);
    const subject = subjectOf(c);
    if (!Object.values(subject).some(Boolean)) throw new BadRequestError("configuration: at least one of commonName, organization, ou, country, province, locality must be set");
    const now = clock.now();
    const notBefore = c.notBefore ? Date.parse(c.notBefore) : now;
    const notAfter = c.notAfter ? Date.parse(c.notAfter) : addPolicyDuration(now, { amount: 10, unit: "y" }); // ten calendar years
    if (Number.isNaN(notBefore)) throw new BadRequestError(`configuration.notBefore: "${c.notBefore}" is not an ISO date`);
    if (Number.isNaN(notAfter)) throw new BadRequestError(`configuration.notAfter: "${c.notAfter}" is not an ISO date`);
    const id = newId();
    const dn = formatDn(subject);
    const config: CaConfiguration = {
      type: c.type, friendlyName: c.friendlyName || dn, commonName: c.commonName, organization: c.organization, ou: c.ou,
      country: c.country, province: c.province, locality: c.locality, notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notAfter).toISOString(), maxPathLength: c.maxPathLength ?? -1, keyAlgorithm: c.keyAlgorithm, dn,
      parentCaId: c.parentCaId ?? null, serialNumber: null, activeCaCertId: null,
    };
    const disable = dto.disableDirectIssuance ?? (dto.enableDirectIssuance === undefined ? false : !dto.enableDirectIssuance);
    const row = (status: string, privateKeyPem: string, activeCertId: string | null, serial: string | null): CertificateAuthorityTable => ({
      id, project_id: dto.projectId, name: dto.name, type: "internal", status, disable_direct_issuance: disable ? 1 : 0,
      configuration: JSON.stringify({ ...config, serialNumber: serial }), encrypted_private_key: privateKeyPem,
      active_ca_cert_id: activeCertId, created_at: isoNow(clock), updated_at: isoNow(clock),
    });

    let created: { pem: string; chain: string; serial: string; nb: Date; na: Date; key: string };
    if (c.type === "root") {
      const r = await createRootCa({ subject, keyAlgorithm: c.keyAlgorithm, notBefore, notAfter, maxPathLength: c.maxPathLength ?? -1 });
      created = { pem: r.certificate.pem, chain: "", serial: r.certificate.serialNumber, nb: r.certificate.notBefore, na: r.certificate.notAfter, key: exportPrivateKeyPem(r.keyPair.privateKey) };
    } else if (c.parentCaId) {
      // An intermediate whose parent is an internal CA of the same project is signed right away.
      const parent = await loadCa(c.parentCaId);
      if (parent.project_id !== dto.projectId) throw new BadRequestError("configuration.parentCaId: the parent CA must belong to the same project");
      const { issuer, caCert } = await issuerFor(parent.id);
      const r = await createIntermediateCa(issuer, { subject, keyAlgorithm: c.keyAlgorithm, notBefore, notAfter, maxPathLength: c.maxPathLength ?? -1 });
      created = {
        pem: r.certificate.pem, chain: chainBelow(caCert),
        serial: r.certificate.serialNumber, nb: r.certificate.notBefore, na: r.certificate.notAfter, key: exportPrivateKeyPem(r.keyPair.privateKey),
      };
    } else {
      // No local parent: the intermediate waits for a certificate (GET /csr → sign elsewhere → import-certificate).
      const kp = await generateKeyPair(c.keyAlgorithm);
      const sealed = await keys.encrypt(dto.projectId, exportPrivateKeyPem(kp.privateKey), keyPurpose(id));
      const pending = row("pending-certificate", sealed, null, null);
      await store.insertCa(pending, null, null);
      await audit.record(actor, { action: "create-ca", resourceType: "certificate-authority", resourceId: id, projectId: dto.projectId, metadata: { name: dto.name, type: c.type } });
      return view(pending);
    }
    const sealed = await keys.encrypt(dto.projectId, created.key, keyPurpose(id));
    const cert = caCertRow(id, 1, created.pem, created.chain, created.serial, created.nb, created.na);
    const ca = row(dto.status === "disabled" ? "disabled" : "active", sealed, cert.id, created.serial);
    await store.insertCa(ca, cert, crls.newCrlRow(id));
    await audit.record(actor, { action: "create-ca", resourceType: "certificate-authority", resourceId: id, projectId: dto.projectId, metadata: { name: dto.name, type: c.type } });
    return view(ca);
  };

  const get = async (actor: Actor, caId: string) => {
    const ca = await requireCa(actor, caId, "viewer");
    // External CAs share the table (profiles point at them by id) but are served under /ca/acme.
    if (ca.type !== "internal") throw new NotFoundError(`Internal certificate authority with ID ${caId} not found (it is an external ${ca.type} CA)`);
    return view(ca);
  };
  const list = async (actor: Actor, projectId: string) => {
    await access.requireProject(actor, projectId, "viewer");
    return (await store.listCas(projectId)).filter((ca) => ca.type === "internal").map(view);
  };

  const update = async (actor: Actor, caId: string, dto: { name?: string; status?: string; disableDirectIssuance?: boolean; enableDirectIssuance?: boolean }) => {
    const ca = await requireCa(actor, caId, "admin");
    const patch: Partial<CertificateAuthorityTable> = { updated_at: isoNow(clock) };
    if (dto.name !== undefined && dto.name !== ca.name) {
      if (await store.getCaByName(ca.project_id, dto.name)) throw new BadRequestError(`A certificate authority named '${dto.name}' already exists in this project`);
      patch.name = dto.name;
    }
    if (dto.status !== undefined) {
      if (dto.status !== "active" && dto.status !== "disabled") throw new BadRequestError(`status: can only be set to "active" or "disabled"`);
      if (ca.status === "pending-certificate") throw new BadRequestError("status: this CA has no certificate yet; import one first");
      if (ca.status === "revoked") throw new BadRequestError("status: this CA was revoked; it stays revoked (create a new CA)");
      if (dto.status === "active") {
        const revoked = await revokedAncestor(ca);
        if (revoked) throw new BadRequestError(`status: the CA '${revoked.name}' above this one was revoked, so nothing this CA signs would verify; it cannot be made active`);
      }
      patch.status = dto.status;
    }
    if (dto.disableDirectIssuance !== undefined) patch.disable_direct_issuance = dto.disableDirectIssuance ? 1 : 0;
    else if (dto.enableDirectIssuance !== undefined) patch.disable_direct_issuance = dto.enableDirectIssuance ? 0 : 1;
    await store.updateCa(ca.id, patch);
    forget(ca);
    await audit.record(actor, { action: "update-ca", resourceType: "certificate-authority", resourceId: ca.id, projectId: ca.project_id, metadata: { status: patch.status } });
    return view({ ...ca, ...patch });
  };

  const remove = async (actor: Actor, caId: string) => {
    const ca = await requireCa(actor, caId, "admin");
    if (await store.countProfilesUsingCa(ca.id)) throw new BadRequestError("This certificate authority is used by certificate profiles; delete or change them first");
    if (ca.status === "revoked") {
      const last = Math.max(...(await store.listCaCertificates(ca.id)).map((c) => Date.parse(c.not_after)));
      if (last > clock.now()) throw new BadRequestError(`This certificate authority was revoked; it is kept until its certificates expire (${new Date(last).toISOString()}), so its parent's CRL and OCSP answers keep saying so`);
    }
    await store.deleteCa(ca.id);
    forget(ca);
    await audit.record(actor, { action: "delete-ca", resourceType: "certificate-authority", resourceId: ca.id, projectId: ca.project_id });
    return view(ca);
  };

  const certificate = async (actor: Actor | undefined, caId: string) => {
    const ca = actor ? await requireCa(actor, caId, "viewer") : await loadCa(caId);
    const cert = ca.active_ca_cert_id ? await store.getCaCertificate(ca.active_ca_cert_id) : undefined;
    if (!cert) throw new BadRequestError(`Certificate authority '${ca.name}' has no certificate yet`);
    return { certificate: cert.certificate, certificateChain: cert.certificate_chain, serialNumber: cert.serial_number };
  };

  const caCertificates = async (actor: Actor, caId: string) => {
    await requireCa(actor, caId, "viewer");
    return (await store.listCaCertificates(caId)).map((c) => ({ certificate: c.certificate, certificateChain: c.certificate_chain, serialNumber: c.serial_number, version: c.version }));
  };

  /** DER of one CA certificate, for the unauthenticated AIA "CA Issuers" URL. */
  const caCertificateDer = async (caId: string, caCertId: string) => {
    const c = await store.getCaCertificate(caCertId);
    if (!c || c.ca_id !== caId) throw new NotFoundError(`CA certificate ${caCertId} not found`);
    return parseCertificate(c.certificate).der;
  };

  const csr = async (actor: Actor, caId: string) => {
    const ca = await requireCa(actor, caId, "admin");
    const config = JSON.parse(ca.configuration) as CaConfiguration;
    if (config.type === "root") throw new BadRequestError("A root CA has no certificate signing request");
    const privateKey = await privateKeyOf(ca);
    return (await createCaCsr({ subject: subjectOf(config), privateKey, spkiDer: spkiDerOf(privateKey), keyAlgorithm: config.keyAlgorithm })).pem;
  };

  const signIntermediateCsr = async (actor: Actor, caId: string, dto: { csr: string; notAfter: string; notBefore?: string; maxPathLength?: number }) => {
    const { ca, issuer, caCert } = await issuerFor((await requireCa(actor, caId, "admin")).id);
    const notAfter = Date.parse(dto.notAfter);
    if (Number.isNaN(notAfter)) throw new BadRequestError(`notAfter: "${dto.notAfter}" is not an ISO date`);
    const signed = await signIntermediate(issuer, {
      csr: dto.csr, notBefore: dto.notBefore ? Date.parse(dto.notBefore) : clock.now(), notAfter, maxPathLength: dto.maxPathLength ?? -1,
    });
    await audit.record(actor, { action: "sign-intermediate", resourceType: "certificate-authority", resourceId: ca.id, projectId: ca.project_id, metadata: { serialNumber: signed.serialNumber } });
    return {
      certificate: signed.pem, issuingCaCertificate: caCert.certificate,
      certificateChain: chainBelow(caCert), serialNumber: signed.serialNumber,
    };
  };

  /**
   * Installs the certificate someone else signed for this CA's key (external-sign flow, or a renewal of it) and
   * makes it the active one. Checked first, so a wrong file cannot leave an active CA that fails every issuance
   * or hands out a chain that does not verify: the key is this CA's; it is a CA certificate whose KeyUsage
   * allows signing certificates and CRLs; it is valid now; each certificate of the chain signed the one before
   * it. On a CA that already has a certificate, only a renewal is accepted: the same subject, a later notAfter.
   */
  const importCertificate = async (actor: Actor, caId: string, dto: { certificate: string; certificateChain: string }) => {
    const ca = await requireCa(actor, caId, "admin");
    const config = JSON.parse(ca.configuration) as CaConfiguration;
    if (config.type === "root") throw new BadRequestError("A root CA signs its own certificate; only an intermediate imports one");
    if (ca.status === "revoked") throw new BadRequestError(`Certificate authority '${ca.name}' was revoked; its key takes no new certificate`);
    const parsed = parseCertificate(dto.certificate);
    const privateKey = await privateKeyOf(ca);
    if (!spkiDerOf(privateKey).equals(parsed.spkiDer)) throw new BadRequestError("certificate: its public key does not match this CA's key pair");
    if (!parsed.basicConstraints?.isCA) throw new BadRequestError("certificate: not a CA certificate (BasicConstraints cA is not true)");
    const missing = (["key_cert_sign", "crl_sign"] as const).filter((u) => !parsed.keyUsages?.includes(u));
    if (missing.length) throw new BadRequestError(`certificate: its KeyUsage ${parsed.keyUsages ? `lacks ${missing.join(" and ")}` : "extension is missing"}; a CA certificate needs keyCertSign (to sign certificates) and cRLSign (to sign its CRL)`);
    const now = clock.now();
    if (parsed.notAfter.getTime() <= now) throw new BadRequestError(`certificate: expired on ${parsed.notAfter.toISOString()}`);
    const chain = certificateBlocks(dto.certificateChain ?? "");
    if (!chain.length) throw new BadRequestError("certificateChain: required: the certificate of the CA that signed this one, then its own chain up to the root");
    let child = new X509Certificate(parsed.der);
    for (const [i, pem] of chain.entries()) {
      let parent: X509Certificate;
      try { parent = new X509Certificate(pem); } catch (e) { throw new BadRequestError(`certificateChain[${i}]: not a certificate (${(e as Error).message})`); }
      const what = i === 0 ? "certificate" : `certificateChain[${i - 1}]`;
      if (!parent.ca) throw new BadRequestError(`certificateChain[${i}]: not a CA certificate (${parent.subject.replace(/\n/g, ", ")})`);
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey))
        throw new BadRequestError(`certificateChain[${i}]: did not sign ${what}; the chain must start with the issuer of the certificate and go up to the root in order`);
      child = parent;
    }
    const current = ca.active_ca_cert_id ? await store.getCaCertificate(ca.active_ca_cert_id) : undefined;
    if (current) {
      const was = parseCertificate(current.certificate);
      if (!was.subjectDer.equals(parsed.subjectDer) || parsed.notAfter <= was.notAfter)
        throw new BadRequestError("certificate: this CA already has a certificate; another is accepted only as its renewal (the same subject and a later notAfter)");
    }
    // The parent, when the KMS holds it (sign-intermediate): the CA whose certificate is the first of the chain.
    const issuer = parseCertificate(chain[0]!);
    const parentCa = (await store.findCaCertificatesBySerial(issuer.serialHex)).find((c) => parseCertificate(c.certificate).der.equals(issuer.der));
    const versions = await store.listCaCertificates(ca.id);
    const row = caCertRow(ca.id, versions.length + 1, toPem("CERTIFICATE", parsed.der), joinPemBlocks(chain), parsed.serialHex, parsed.notBefore, parsed.notAfter);
    // What the CA's configuration shows comes from the certificate now, not from what was asked at creation.
    const configuration: CaConfiguration = {
      ...config, notBefore: parsed.notBefore.toISOString(), notAfter: parsed.notAfter.toISOString(),
      maxPathLength: parsed.basicConstraints.pathLength ?? -1, serialNumber: parsed.serialHex, parentCaId: parentCa?.ca_id ?? null,
    };
    await store.activateCaCertificate(ca.id, row, crls.newCrlRow(ca.id), isoNow(clock), JSON.stringify(configuration), ca.status === "disabled" ? "disabled" : "active");
    forget(ca);
    await audit.record(actor, { action: "import-ca-certificate", resourceType: "certificate-authority", resourceId: ca.id, projectId: ca.project_id, metadata: { serialNumber: parsed.serialHex, renewal: !!current } });
    return { message: "Successfully imported certificate to CA", caId: ca.id };
  };

  /**
   * `POST /:caId/renew` with `type: "existing"`: a new certificate for the CA's current key and subject, so
   * everything it issued keeps verifying (same key, same name) while new issuance gets the later notAfter. A
   * root signs itself again; an intermediate is signed again by its parent in the KMS. One signed elsewhere
   * renews by importing a new certificate (importCertificate).
   */
  const renew = async (actor: Actor, caId: string, dto: { type: string; notAfter: string }) => {
    const ca = await requireCa(actor, caId, "admin");
    if (dto.type !== "existing") throw new BadRequestError(`type: only "existing" is supported (a new certificate for the CA's current key pair)`);
    if (ca.status === "revoked") throw new BadRequestError(`Certificate authority '${ca.name}' was revoked; its key takes no new certificate`);
    const config = JSON.parse(ca.configuration) as CaConfiguration;
    const current = ca.active_ca_cert_id ? await store.getCaCertificate(ca.active_ca_cert_id) : undefined;
    if (!current) throw new BadRequestError(`Certificate authority '${ca.name}' has no certificate yet; import one first`);
    const now = clock.now();
    const notAfter = Date.parse(dto.notAfter);
    if (Number.isNaN(notAfter)) throw new BadRequestError(`notAfter: "${dto.notAfter}" is not an ISO date`);
    if (notAfter <= now) throw new BadRequestError("notAfter: must be in the future");
    const was = parseCertificate(current.certificate);
    const privateKey = await privateKeyOf(ca);
    const keyPair = { algorithm: config.keyAlgorithm, privateKey, publicKey: createPublicKey(privateKey), spkiDer: spkiDerOf(privateKey) };
    const options = { subject: subjectOf(config), keyAlgorithm: config.keyAlgorithm, keyPair, notBefore: now, notAfter, maxPathLength: was.basicConstraints?.pathLength ?? -1 };
    let renewed: CreatedCa;
    let chain = "";
    if (config.type === "root") {
      renewed = await createRootCa(options);
    } else {
      if (!config.parentCaId) throw new BadRequestError(`Certificate authority '${ca.name}' was signed outside the KMS: have its CSR (GET …/${ca.id}/csr) signed again and import the new certificate`);
      await requireCa(actor, config.parentCaId, "admin");
      const parent = await issuerFor(config.parentCaId);
      renewed = await createIntermediateCa(parent.issuer, options);
      chain = chainBelow(parent.caCert);
    }
    const c = renewed.certificate;
    if (!parseCertificate(c.pem).subjectDer.equals(was.subjectDer)) throw new BadRequestError("the CA's subject no longer encodes as in its certificate; it cannot be renewed in place");
    const versions = await store.listCaCertificates(ca.id);
    const row = caCertRow(ca.id, versions.length + 1, c.pem, chain, c.serialNumber, c.notBefore, c.notAfter);
    const configuration: CaConfiguration = { ...config, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), serialNumber: c.serialNumber };
    await store.activateCaCertificate(ca.id, row, null, isoNow(clock), JSON.stringify(configuration), ca.status === "disabled" ? "disabled" : "active");
    forget(ca);
    await audit.record(actor, { action: "renew-ca", resourceType: "certificate-authority", resourceId: ca.id, projectId: ca.project_id, metadata: { serialNumber: c.serialNumber, version: row.version } });
    return { certificate: c.pem, certificateChain: chain, serialNumber: c.serialNumber };
  };

  /** The nearest CA above this one (in the KMS) that was revoked, if any. */
  const revokedAncestor = async (ca: CertificateAuthorityTable): Promise<CertificateAuthorityTable | undefined> => {
    const seen = new Set([ca.id]);
    for (let id = (JSON.parse(ca.configuration) as CaConfiguration).parentCaId; id && !seen.has(id);) {
      seen.add(id);
      const parent = await store.getCa(id);
      if (!parent) return undefined;
      if (parent.status === "revoked") return parent;
      id = (JSON.parse(parent.configuration) as CaConfiguration).parentCaId;
    }
    return undefined;
  };

  /**
   * Revokes an intermediate CA: every certificate of its key is put on the CRL of the CA in the KMS that signed
   * it, and that CA's OCSP responder answers "revoked" for it, so a relying party that checks revocation
   * rejects everything the CA issued. The CA stops issuing for good (status `revoked`) and the CAs below it are
   * disabled. A root cannot be revoked (nothing above it publishes a CRL), nor a CA signed outside the KMS
   * (revoke it where it was signed).
   */
  const revoke = async (actor: Actor, caId: string, reason: string) => {
    const ca = await requireCa(actor, caId, "admin");
    if (!isRevocationReason(reason)) throw new BadRequestError(`revocationReason: "${reason}" is not a revocation reason (one of ${Object.keys(REVOCATION_REASONS).join(", ")})`);
    const config = JSON.parse(ca.configuration) as CaConfiguration;
    if (ca.type !== "internal") throw new BadRequestError(`Certificate authority '${ca.name}' is an external CA; revoke its certificates where they were signed`);
    if (config.type === "root") throw new BadRequestError("A root CA cannot be revoked: nothing above it publishes a CRL. Disable it, and remove it from the trust stores that hold it");
    if (ca.status === "revoked") throw new BadRequestError(`Certificate authority '${ca.name}' is already revoked`);
    if (ca.status === "pending-certificate") throw new BadRequestError(`Certificate authority '${ca.name}' has no certificate to revoke`);
    const issuerOf = new Map<string, string | null>();
    for (const c of await store.listCaCertificates(ca.id)) {
      const above = certificateBlocks(c.certificate_chain)[0];
      const issuer = above ? parseCertificate(above) : undefined;
      const signer = issuer && (await store.findCaCertificatesBySerial(issuer.serialHex)).find((r) => parseCertificate(r.certificate).der.equals(issuer.der));
      issuerOf.set(c.id, signer?.ca_id ?? null);
    }
    const issuers = [...new Set([...issuerOf.values()].filter((v): v is string => v !== null))];
    if (!issuers.length) throw new BadRequestError(`Certificate authority '${ca.name}' was signed outside the KMS; revoke its certificate at the CA that signed it`);
    // The CAs below it, in any project (an imported intermediate names its parent wherever that is).
    const links = (await store.listInternalCaLinks()).map((l) => ({ id: l.id, parent: (JSON.parse(l.configuration) as CaConfiguration).parentCaId }));
    const below: string[] = [];
    for (let frontier = [ca.id]; frontier.length;) {
      frontier = links.filter((l) => l.parent && frontier.includes(l.parent) && l.id !== ca.id && !below.includes(l.id)).map((l) => l.id);
      below.push(...frontier);
    }
    const at = isoNow(clock);
    await store.revokeCa(ca.id, at, revocationReasonCode(reason), issuerOf, below);
    forget(ca);
    for (const id of issuers) await regenerateCrl(id);
    const serialNumbers = (await store.listCaCertificates(ca.id)).filter((c) => issuerOf.get(c.id)).map((c) => c.serial_number);
    await audit.record(actor, { action: "revoke-ca", resourceType: "certificate-authority", resourceId: ca.id, projectId: ca.project_id, metadata: { reason, serialNumbers, disabledCaIds: below } });
    return { message: "Successfully revoked certificate authority", caId: ca.id, revokedAt: at, serialNumbers, disabledCaIds: below };
  };

  return { issuerFor, issuerOf, loadCa, view, create, get, list, update, remove, certificate, caCertificates, caCertificateDer, csr, signIntermediateCsr, importCertificate, renew, revoke, privateKeyOf };
};
export type CaService = ReturnType<typeof caServiceFactory>;
