import type { Kysely } from "kysely";
import type {
  Database, InstanceRegisterTokenTable, ServiceCertificateTable, ServicePublicKeyTable, WorkloadAuthTable,
} from "./schema.js";
import { retrustIssuedTokens, revokeIssuedTokens, type IssuedTokens } from "./identities.js";

/** Persistence of workload identity: attached auth methods, service public keys, jtis, register tokens, service certificates. */
export const workloadIdentityStore = (db: Kysely<Database>) => ({
  insertAuth: (row: WorkloadAuthTable) => db.insertInto("identity_workload_auths").values(row).execute(),
  getAuth: (identityId: string, method: string) =>
    db.selectFrom("identity_workload_auths").selectAll().where("identity_id", "=", identityId).where("method", "=", method).executeTakeFirst(),
  listAuthMethods: async (identityId: string) =>
    (await db.selectFrom("identity_workload_auths").select("method").where("identity_id", "=", identityId).execute()).map((r) => r.method),
  /** With `tokens`, a new access-token trusted-IP list applies to the method's live tokens in the same transaction. */
  updateAuth: (id: string, patch: Partial<WorkloadAuthTable>, tokens?: IssuedTokens) =>
    db.transaction().execute(async (tx) => {
      await tx.updateTable("identity_workload_auths").set(patch).where("id", "=", id).execute();
      if (tokens && patch.access_token_trusted_ips) await retrustIssuedTokens(tx, tokens, patch.access_token_trusted_ips);
    }),
  /** Detaches the method and revokes the tokens it issued, in one transaction. */
  deleteAuth: (id: string, tokens: IssuedTokens) =>
    db.transaction().execute(async (tx) => {
      await tx.deleteFrom("identity_workload_auths").where("id", "=", id).execute();
      await revokeIssuedTokens(tx, tokens);
    }),
  /** Service identities of a project whose id or name is `identity` (svccert may name either). */
  findServiceAuthsByName: (method: string, projectSlug: string, identity: string) =>
    db.selectFrom("identity_workload_auths")
      .innerJoin("identities", "identities.id", "identity_workload_auths.identity_id")
      .innerJoin("projects", "projects.id", "identity_workload_auths.project_id")
      .selectAll("identity_workload_auths")
      .where("identity_workload_auths.method", "=", method)
      .where("projects.slug", "=", projectSlug)
      .where((eb) => eb.or([eb("identities.id", "=", identity), eb("identities.name", "=", identity)]))
      .execute(),

  insertPublicKey: (row: ServicePublicKeyTable) => db.insertInto("service_public_keys").values(row).execute(),
  getPublicKey: (identityId: string, keyVersion: string) =>
    db.selectFrom("service_public_keys").selectAll().where("identity_id", "=", identityId).where("key_version", "=", keyVersion).executeTakeFirst(),
  listPublicKeys: (identityId: string) =>
    db.selectFrom("service_public_keys").selectAll().where("identity_id", "=", identityId).orderBy("created_at").execute(),
  deletePublicKey: (id: string) => db.deleteFrom("service_public_keys").where("id", "=", id).execute(),

  /**
   * Remembers a jti until `expiresAt`; false when it was already used. The insert itself is the check, so two
   * concurrent logins with one JWT cannot both pass. Expired entries are swept on the way.
   */
  useJti: async (id: string, expiresAt: string, now: string): Promise<boolean> => {
    await db.deleteFrom("used_jtis").where("expires_at", "<=", now).execute();
    const r = await db.insertInto("used_jtis").values({ id, expires_at: expiresAt }).onConflict((oc) => oc.column("id").doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  },

  insertRegisterToken: (row: InstanceRegisterTokenTable) => db.insertInto("instance_register_tokens").values(row).execute(),
  getRegisterToken: (id: string) => db.selectFrom("instance_register_tokens").selectAll().where("id", "=", id).executeTakeFirst(),
  /** Marks the token used unless it already was or has expired; false then. Atomic: one use, even in a race. */
  consumeRegisterToken: async (id: string, now: string): Promise<boolean> => {
    const r = await db.updateTable("instance_register_tokens").set({ used_at: now })
      .where("id", "=", id).where("used_at", "is", null).where("expires_at", ">", now).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  insertServiceCertificate: (row: ServiceCertificateTable) => db.insertInto("service_certificates").values(row).execute(),
  getServiceCertificate: (certificateId: string) =>
    db.selectFrom("service_certificates").selectAll().where("certificate_id", "=", certificateId).executeTakeFirst(),
  /**
   * The certificate issued by one of our CAs with this serial (lowercase hex, as stored) and this SHA-256
   * fingerprint. Goes through the (ca_id, serial_number) index once per CA: serials are random, so more than
   * one row is as good as never, and the fingerprint picks the exact certificate.
   */
  getCaCertificateBySerial: async (serialHex: string, fingerprintSha256: string) =>
    (await db.selectFrom("certificates").selectAll()
      .where("ca_id", "in", db.selectFrom("certificate_authorities").select("id"))
      .where("serial_number", "=", serialHex).execute())
      .find((c) => c.fingerprint_sha256 === fingerprintSha256),
});
export type WorkloadIdentityStore = ReturnType<typeof workloadIdentityStore>;
