import { sql, type Kysely } from "kysely";
import type {
  CaCertificateTable, CaCrlTable, CertificateAuthorityTable, CertificatePolicyTable, CertificateProfileTable,
  AuditLogTable, CertificateRequestTable, CertificateTable, Database,
} from "./schema.js";
import { groupCommit } from "./group-commit.js";
import { dialectOf, prepare } from "./prepared.js";
import { certificateBlocks, joinPemBlocks } from "../crypto/der/pem.js";

/** What issuance needs to know of a CA before it signs: read with the profile (getIssuanceContext). */
export type CaState = Pick<CertificateAuthorityTable, "id" | "name" | "status" | "active_ca_cert_id">;

export interface CertificateFilter { status?: string; commonName?: string; expiringBefore?: string; now: string }
export interface RequestFilter { status?: string; from?: string; to?: string; profileIds?: readonly string[]; search?: string }

export const pkiStore = (db: Kysely<Database>) => {
  const certificatesMatching = (projectId: string, f: CertificateFilter) => {
    let q = db.selectFrom("certificates").where("project_id", "=", projectId);
    if (f.status === "revoked") q = q.where("status", "=", "revoked");
    else if (f.status === "expired") q = q.where("status", "!=", "revoked").where("not_after", "<=", f.now);
    else if (f.status === "active") q = q.where("status", "=", "active").where("not_after", ">", f.now);
    if (f.commonName) q = q.where("common_name", "like", `%${f.commonName}%`);
    if (f.expiringBefore) q = q.where("not_after", "<", f.expiringBefore);
    return q;
  };
  const issued = groupCommit(db);
  const caById = prepare(db, (id: string) => db.selectFrom("certificate_authorities").selectAll().where("id", "=", id));
  // Issuance reads this on every request (hot path), compiled once: the profile with what deciding on it
  // takes (the caller's role in the project, when the policy last changed, the state of the profile's CA), so
  // a request for a cached CA and policy costs one query before the certificate is signed.
  const issuanceContext = prepare(db, (profileId: string, identityId: string) =>
    db.selectFrom("certificate_profiles as p")
      .innerJoin("projects as pr", "pr.id", "p.project_id")
      .leftJoin("memberships as m", (j) => j.onRef("m.project_id", "=", "p.project_id").on("m.identity_id", "=", identityId))
      .leftJoin("certificate_policies as po", "po.id", "p.policy_id")
      .leftJoin("certificate_authorities as ca", "ca.id", "p.ca_id")
      .selectAll("p")
      .select(["pr.org_id as project_org_id", "m.role as member_role", "m.access_starts_at as member_access_starts_at", "m.access_ends_at as member_access_ends_at", "po.updated_at as policy_updated_at",
        "ca.name as ca_name", "ca.status as ca_status", "ca.active_ca_cert_id as ca_active_cert_id"])
      .where("p.id", "=", profileId));
  /**
   * A certificate issued by an internal CA is stored without its chain (`certificate_chain` ""): the chain is
   * that of the CA certificate which signed it (`ca_cert_id`), and repeating ~1.5 KB of CA certificates in
   * every row doubled what each issuance writes. Reads put it back, so callers always see a full row.
   * CA certificate rows never change once written, so their chains are kept by id.
   */
  const caChains = new Map<string, string>();
  const withChain = async <T extends CertificateTable | undefined>(row: T): Promise<T> => {
    if (!row || row.certificate_chain || !row.ca_cert_id) return row;
    let chain = caChains.get(row.ca_cert_id);
    if (chain === undefined) {
      const ca = await db.selectFrom("ca_certificates").select(["certificate", "certificate_chain"]).where("id", "=", row.ca_cert_id).executeTakeFirst();
      if (!ca) return row;
      chain = joinPemBlocks([...certificateBlocks(ca.certificate), ...certificateBlocks(ca.certificate_chain)]);
      if (caChains.size > 10_000) caChains.clear();
      caChains.set(row.ca_cert_id, chain);
    }
    return { ...row, certificate_chain: chain };
  };
  return {
    // Certificate authorities -----------------------------------------------------------------------
    /** A CA is stored with its first certificate and an empty CRL, or not at all. */
    insertCa: (ca: CertificateAuthorityTable, cert: CaCertificateTable | null, crl: CaCrlTable | null) =>
      db.transaction().execute(async (tx) => {
        await tx.insertInto("certificate_authorities").values(ca).execute();
        if (cert) await tx.insertInto("ca_certificates").values(cert).execute();
        if (crl) await tx.insertInto("ca_crls").values(crl).execute();
      }),
    /** Installs a CA certificate (intermediate import, renewal) and makes it the active one. */
    activateCaCertificate: (caId: string, cert: CaCertificateTable, crl: CaCrlTable | null, now: string, configuration?: string, status: "active" | "disabled" = "active") =>
      db.transaction().execute(async (tx) => {
        await tx.insertInto("ca_certificates").values(cert).execute();
        await tx.updateTable("certificate_authorities").set({ active_ca_cert_id: cert.id, status, updated_at: now, ...(configuration && { configuration }) }).where("id", "=", caId).execute();
        if (crl) await tx.insertInto("ca_crls").values(crl).onConflict((oc) => oc.column("ca_id").doNothing()).execute();
      }),
    getCa: (id: string) => caById.first(id),
    getCaByName: (projectId: string, name: string) =>
      db.selectFrom("certificate_authorities").selectAll().where("project_id", "=", projectId).where("name", "=", name).executeTakeFirst(),
    listCas: (projectId: string) => db.selectFrom("certificate_authorities").selectAll().where("project_id", "=", projectId).orderBy("created_at").execute(),
    updateCa: (id: string, patch: Partial<CertificateAuthorityTable>) => db.updateTable("certificate_authorities").set(patch).where("id", "=", id).execute(),
    deleteCa: (id: string) => db.deleteFrom("certificate_authorities").where("id", "=", id).execute(),
    /** Every internal CA's id, status and configuration: finding the CAs below one (their parents are in the configuration). */
    listInternalCaLinks: () =>
      db.selectFrom("certificate_authorities").select(["id", "status", "configuration"]).where("type", "=", "internal").execute(),
    getCaCertificate: (id: string) => db.selectFrom("ca_certificates").selectAll().where("id", "=", id).executeTakeFirst(),
    /** CA certificates (of any CA) with this serial: finding which CA signed an imported certificate. */
    findCaCertificatesBySerial: (serialHex: string) => db.selectFrom("ca_certificates").selectAll().where("serial_number", "=", serialHex).execute(),
    /**
     * Revokes a CA: each of its certificates not yet revoked is marked with the time, the reason and the CA in the
     * KMS that signed it (none for one signed elsewhere); the CA becomes `revoked` and the CAs below it `disabled`.
     */
    revokeCa: (caId: string, at: string, reason: number, issuerOf: ReadonlyMap<string, string | null>, descendants: readonly string[]) =>
      db.transaction().execute(async (tx) => {
        for (const [certId, issuer] of issuerOf)
          await tx.updateTable("ca_certificates").set({ revoked_at: at, revocation_reason: reason, issuer_ca_id: issuer }).where("id", "=", certId).where("revoked_at", "is", null).execute();
        await tx.updateTable("certificate_authorities").set({ status: "revoked", updated_at: at }).where("id", "=", caId).execute();
        if (descendants.length) await tx.updateTable("certificate_authorities").set({ status: "disabled", updated_at: at }).where("id", "in", descendants).execute();
      }),
    /** The revoked certificates of CAs this CA signed: entries of its CRL. */
    listRevokedCaCertificates: (issuerCaId: string) =>
      db.selectFrom("ca_certificates").select(["serial_number", "revoked_at", "revocation_reason"]).where("issuer_ca_id", "=", issuerCaId).where("revoked_at", "is not", null).execute(),
    listCaCertificates: (caId: string) => db.selectFrom("ca_certificates").selectAll().where("ca_id", "=", caId).orderBy("version").execute(),

    // CRLs --------------------------------------------------------------------------------------------
    getCrl: (id: string) => db.selectFrom("ca_crls").selectAll().where("id", "=", id).executeTakeFirst(),
    getCrlByCa: (caId: string) => db.selectFrom("ca_crls").selectAll().where("ca_id", "=", caId).executeTakeFirst(),
    listCrls: () => db.selectFrom("ca_crls").selectAll().execute(),
    updateCrl: (id: string, patch: Partial<CaCrlTable>) => db.updateTable("ca_crls").set(patch).where("id", "=", id).execute(),

    // Policies and profiles ---------------------------------------------------------------------------
    insertPolicy: (row: CertificatePolicyTable) => db.insertInto("certificate_policies").values(row).execute(),
    getPolicy: (id: string) => db.selectFrom("certificate_policies").selectAll().where("id", "=", id).executeTakeFirst(),
    getPolicyByName: (projectId: string, name: string) =>
      db.selectFrom("certificate_policies").selectAll().where("project_id", "=", projectId).where("name", "=", name).executeTakeFirst(),
    listPolicies: (projectId: string, search?: string) => {
      let q = db.selectFrom("certificate_policies").selectAll().where("project_id", "=", projectId);
      if (search) q = q.where("name", "like", `%${search}%`);
      return q.orderBy("created_at").execute();
    },
    updatePolicy: (id: string, patch: Partial<CertificatePolicyTable>) => db.updateTable("certificate_policies").set(patch).where("id", "=", id).execute(),
    deletePolicy: (id: string) => db.deleteFrom("certificate_policies").where("id", "=", id).execute(),
    countProfilesUsingPolicy: async (policyId: string) =>
      Number((await db.selectFrom("certificate_profiles").select((eb) => eb.fn.countAll().as("n")).where("policy_id", "=", policyId).executeTakeFirstOrThrow()).n),
    countProfilesUsingCa: async (caId: string) =>
      Number((await db.selectFrom("certificate_profiles").select((eb) => eb.fn.countAll().as("n")).where("ca_id", "=", caId).executeTakeFirstOrThrow()).n),

    insertProfile: (row: CertificateProfileTable) => db.insertInto("certificate_profiles").values(row).execute(),
    getProfile: (id: string) => db.selectFrom("certificate_profiles").selectAll().where("id", "=", id).executeTakeFirst(),
    /**
     * What an issuance checks before it signs, in one query instead of four: the profile, its project's
     * organization, the caller's role in that project (null: no membership) and the version of the profile's
     * policy (so a cached normalised policy can be reused without reading the rules).
     */
    getIssuanceContext: (profileId: string, identityId: string) => issuanceContext.first(profileId, identityId),
    getProfileBySlug: (projectId: string, slug: string) =>
      db.selectFrom("certificate_profiles").selectAll().where("project_id", "=", projectId).where("slug", "=", slug).executeTakeFirst(),
    findProfilesBySlugInOrg: (orgId: string, slug: string) =>
      db.selectFrom("certificate_profiles").innerJoin("projects", "projects.id", "certificate_profiles.project_id")
        .selectAll("certificate_profiles").where("projects.org_id", "=", orgId).where("certificate_profiles.slug", "=", slug).execute(),
    listProfiles: (projectId: string, f: { enrollmentType?: string; issuerType?: string; caId?: string; search?: string }) => {
      let q = db.selectFrom("certificate_profiles").selectAll().where("project_id", "=", projectId);
      if (f.enrollmentType) q = q.where("enrollment_type", "=", f.enrollmentType);
      if (f.issuerType) q = q.where("issuer_type", "=", f.issuerType);
      if (f.caId) q = q.where("ca_id", "=", f.caId);
      if (f.search) q = q.where("slug", "like", `%${f.search}%`);
      return q.orderBy("created_at").execute();
    },
    updateProfile: (id: string, patch: Partial<CertificateProfileTable>) => db.updateTable("certificate_profiles").set(patch).where("id", "=", id).execute(),
    deleteProfile: (id: string) => db.deleteFrom("certificate_profiles").where("id", "=", id).execute(),

    // Certificates and requests -------------------------------------------------------------------------
    /**
     * An issued certificate, its (already issued) request and the audit event land together: the inventory
     * never misses one. Concurrent issuances share a transaction (group-commit.ts); each resolves once its
     * rows are committed.
     */
    insertIssued: (cert: CertificateTable, request: CertificateRequestTable, audit?: AuditLogTable) =>
      issued.insert([["certificates", cert], ["certificate_requests", request], ...(audit ? [["audit_logs", audit] as const] : [])]),
    getCertificate: async (id: string) => withChain(await db.selectFrom("certificates").selectAll().where("id", "=", id).executeTakeFirst()),
    getCertificateBySerial: async (caId: string, serial: string) =>
      withChain(await db.selectFrom("certificates").selectAll().where("ca_id", "=", caId).where("serial_number", "=", serial).executeTakeFirst()),
    /** One page of a project's certificates, soonest expiry first, and how many match the filters in all. */
    listCertificates: async (projectId: string, f: CertificateFilter & { offset: number; limit: number }) => {
      const matching = certificatesMatching(projectId, f);
      const [rows, count] = await Promise.all([
        matching.selectAll().orderBy("not_after").limit(f.limit).offset(f.offset).execute(),
        matching.select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow(),
      ]);
      return { certificates: await Promise.all(rows.map(withChain)), totalCount: Number(count.n) };
    },
    /** Through the partial index of revoked certificates (migration 010), not every certificate of the CA. */
    listRevoked: (caId: string) =>
      db.selectFrom("certificates").select(["serial_number", "revoked_at", "revocation_reason"]).where("ca_id", "=", caId).where("status", "=", "revoked").execute(),
    revokeCertificate: (id: string, at: string, reason: number) =>
      db.updateTable("certificates").set({ status: "revoked", revoked_at: at, revocation_reason: reason, updated_at: at }).where("id", "=", id).execute(),
    deleteCertificate: (id: string) => db.deleteFrom("certificates").where("id", "=", id).execute(),
    getRequest: (id: string) => db.selectFrom("certificate_requests").selectAll().where("id", "=", id).executeTakeFirst(),
    /**
     * One page of a project's certificate requests with their profile and certificate (if any), and how many
     * match the filters in all. `search` matches the certificate's common name or SANs, or, for a request with
     * no certificate yet, the common name it asked for.
     */
    listRequests: async (projectId: string, f: RequestFilter & { offset: number; limit: number; newestFirst: boolean }) => {
      let q = db.selectFrom("certificate_requests as r")
        .leftJoin("certificate_profiles as p", "p.id", "r.profile_id")
        .leftJoin("certificates as c", "c.id", "r.certificate_id")
        .where("r.project_id", "=", projectId);
      if (f.status) q = q.where("r.status", "=", f.status);
      if (f.from) q = q.where("r.created_at", ">=", f.from);
      if (f.to) q = q.where("r.created_at", "<=", f.to);
      if (f.profileIds?.length) q = q.where("r.profile_id", "in", f.profileIds);
      if (f.search) {
        const like = `%${f.search}%`;
        const requestedName = dialectOf(db) === "postgres" ? sql<string>`(r.attributes::jsonb ->> 'commonName')` : sql<string>`json_extract(r.attributes, '$.commonName')`;
        q = q.where((eb) => eb.or([eb("c.common_name", "like", like), eb("c.alt_names", "like", like), eb.and([eb("r.certificate_id", "is", null), eb(requestedName, "like", like)])]));
      }
      const [rows, count] = await Promise.all([
        q.select([
          "r.id", "r.status", "r.profile_id", "r.certificate_id", "r.error_message", "r.attributes", "r.created_at", "r.updated_at",
          "p.slug as profile_slug", "p.ca_id as profile_ca_id", "c.ca_id", "c.common_name", "c.alt_names", "c.serial_number", "c.status as certificate_status", "c.not_after",
        ]).orderBy("r.created_at", f.newestFirst ? "desc" : "asc").orderBy("r.id", f.newestFirst ? "desc" : "asc").limit(f.limit).offset(f.offset).execute(),
        q.select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow(),
      ]);
      return { rows, totalCount: Number(count.n) };
    },
  };
};
export type PkiStore = ReturnType<typeof pkiStore>;
