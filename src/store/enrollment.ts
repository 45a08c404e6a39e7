import type { Kysely } from "kysely";
import type {
  AcmeAccountTable, AcmeAuthorizationTable, AcmeChallengeTable, AcmeEabCredentialTable, AcmeOrderTable, Database,
} from "./schema.js";

/** ACME state (RFC 8555) and the profile look-ups EST needs. */
export const enrollmentStore = (db: Kysely<Database>) => ({
  // Profiles by label ----------------------------------------------------------------------------------
  /** EST paths name a profile by slug; slugs are unique per project only, so the caller decides on ambiguity. */
  findProfilesBySlug: (slug: string, enrollmentType: string) =>
    db.selectFrom("certificate_profiles").selectAll().where("slug", "=", slug).where("enrollment_type", "=", enrollmentType).execute(),

  // Nonces -----------------------------------------------------------------------------------------------
  insertNonce: (value: string, expiresAt: string) => db.insertInto("acme_nonces").values({ value, expires_at: expiresAt }).execute(),
  /** True when the nonce existed and had not expired; it is gone afterwards either way (single use). */
  consumeNonce: async (value: string, now: string) => {
    const r = await db.deleteFrom("acme_nonces").where("value", "=", value).where("expires_at", ">", now).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  },
  deleteExpiredNonces: (now: string) => db.deleteFrom("acme_nonces").where("expires_at", "<=", now).execute(),

  // External account binding -------------------------------------------------------------------------------
  insertEab: (row: AcmeEabCredentialTable) => db.insertInto("acme_eab_credentials").values(row).execute(),
  getEab: (id: string) => db.selectFrom("acme_eab_credentials").selectAll().where("id", "=", id).executeTakeFirst(),
  listEab: (profileId: string) =>
    db.selectFrom("acme_eab_credentials").selectAll().where("profile_id", "=", profileId).orderBy("created_at").execute(),
  countAccountsByEab: async (eabId: string) =>
    Number((await db.selectFrom("acme_accounts").select((eb) => eb.fn.countAll().as("n")).where("eab_id", "=", eabId).executeTakeFirstOrThrow()).n),
  deleteEab: (id: string) => db.deleteFrom("acme_eab_credentials").where("id", "=", id).execute(),

  // Accounts ---------------------------------------------------------------------------------------------
  insertAccount: (row: AcmeAccountTable) => db.insertInto("acme_accounts").values(row).execute(),
  getAccount: (id: string) => db.selectFrom("acme_accounts").selectAll().where("id", "=", id).executeTakeFirst(),
  getAccountByThumbprint: (profileId: string, thumbprint: string) =>
    db.selectFrom("acme_accounts").selectAll().where("profile_id", "=", profileId).where("thumbprint", "=", thumbprint).executeTakeFirst(),
  updateAccount: (id: string, patch: Partial<AcmeAccountTable>) => db.updateTable("acme_accounts").set(patch).where("id", "=", id).execute(),
  /** RFC 8555 7.3.6: deactivating an account ends its pending authorizations too. */
  deactivateAccount: (id: string, now: string) =>
    db.transaction().execute(async (tx) => {
      await tx.updateTable("acme_accounts").set({ status: "deactivated", updated_at: now }).where("id", "=", id).execute();
      await tx.updateTable("acme_authorizations").set({ status: "deactivated", updated_at: now })
        .where("account_id", "=", id).where("status", "=", "pending").execute();
    }),

  // Orders, authorizations, challenges --------------------------------------------------------------------
  /** An order is stored with all its authorizations and challenges, or not at all. */
  insertOrder: (order: AcmeOrderTable, authzs: AcmeAuthorizationTable[], challenges: AcmeChallengeTable[]) =>
    db.transaction().execute(async (tx) => {
      await tx.insertInto("acme_orders").values(order).execute();
      if (authzs.length) await tx.insertInto("acme_authorizations").values(authzs).execute();
      if (challenges.length) await tx.insertInto("acme_challenges").values(challenges).execute();
    }),
  getOrder: (id: string) => db.selectFrom("acme_orders").selectAll().where("id", "=", id).executeTakeFirst(),
  getOrderByCertificate: (certificateId: string) =>
    db.selectFrom("acme_orders").selectAll().where("certificate_id", "=", certificateId).executeTakeFirst(),
  /** Orders whose newOrder named this certificate ID in `replaces` (RFC 9773). */
  listOrdersReplacing: (certId: string) =>
    db.selectFrom("acme_orders").select(["id", "status", "expires"]).where("replaces", "=", certId).execute(),
  listOrderIds: (accountId: string) =>
    db.selectFrom("acme_orders").select("id").where("account_id", "=", accountId).orderBy("created_at").execute(),
  updateOrder: (id: string, patch: Partial<AcmeOrderTable>) => db.updateTable("acme_orders").set(patch).where("id", "=", id).execute(),
  /** Moves an order from one status to another only if nobody else did first (two finalize calls racing). */
  transitionOrder: async (id: string, from: string, patch: Partial<AcmeOrderTable> & { status: string }) => {
    const r = await db.updateTable("acme_orders").set(patch).where("id", "=", id).where("status", "=", from).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  getAuthorization: (id: string) => db.selectFrom("acme_authorizations").selectAll().where("id", "=", id).executeTakeFirst(),
  listAuthorizations: (orderId: string) =>
    db.selectFrom("acme_authorizations").selectAll().where("order_id", "=", orderId).orderBy("identifier_value").execute(),
  /** A still-valid authorization of this account for this identifier, for reuse in a new order (RFC 8555 7.1.3). */
  findValidAuthorization: (accountId: string, type: string, value: string, wildcard: boolean, now: string) =>
    db.selectFrom("acme_authorizations").selectAll().where("account_id", "=", accountId).where("identifier_type", "=", type)
      .where("identifier_value", "=", value).where("wildcard", "=", wildcard ? 1 : 0).where("status", "=", "valid")
      .where("expires", ">", now).orderBy("expires", "desc").executeTakeFirst(),
  /** Identifier values this account has proven control of (revocation by an account that did not order it, RFC 8555 7.6). */
  listValidIdentifierValues: async (accountId: string, now: string) =>
    (await db.selectFrom("acme_authorizations").select("identifier_value").where("account_id", "=", accountId)
      .where("status", "=", "valid").where("expires", ">", now).execute()).map((r) => r.identifier_value),
  updateAuthorization: (id: string, patch: Partial<AcmeAuthorizationTable>) =>
    db.updateTable("acme_authorizations").set(patch).where("id", "=", id).execute(),

  getChallenge: (id: string) => db.selectFrom("acme_challenges").selectAll().where("id", "=", id).executeTakeFirst(),
  listChallenges: (authzIds: string[]) =>
    authzIds.length ? db.selectFrom("acme_challenges").selectAll().where("authz_id", "in", authzIds).orderBy("type").execute() : Promise.resolve([]),
  /** pending → processing, once: a second POST to the challenge does not start a second validation. */
  startChallenge: async (id: string, now: string) => {
    const r = await db.updateTable("acme_challenges").set({ status: "processing", updated_at: now })
      .where("id", "=", id).where("status", "=", "pending").executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
  /**
   * processing → processing again, once, for a challenge whose validation was abandoned (its server stopped or died):
   * only the caller whose update lands validates it anew.
   */
  restartStaleChallenge: async (id: string, staleBefore: string, now: string) => {
    const r = await db.updateTable("acme_challenges").set({ updated_at: now })
      .where("id", "=", id).where("status", "=", "processing").where("updated_at", "<", staleBefore).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
  /** A validation this server stopped midway (shutdown): stale at once, so the next read by any server resumes it. */
  abandonChallenge: (id: string) =>
    db.updateTable("acme_challenges").set({ updated_at: new Date(0).toISOString() }).where("id", "=", id).where("status", "=", "processing").execute(),
  /**
   * The outcome of a validation lands on the challenge and its authorization together; only on a pending
   * authorization, so one deactivated meanwhile (RFC 8555 7.5.2) stays so, and a second challenge of the same
   * authorization that fails after the first succeeded does not undo it.
   */
  finishChallenge: (challenge: { id: string } & Partial<AcmeChallengeTable>, authz: { id: string } & Partial<AcmeAuthorizationTable>) =>
    db.transaction().execute(async (tx) => {
      const { id: cid, ...c } = challenge;
      const { id: aid, ...a } = authz;
      await tx.updateTable("acme_challenges").set(c).where("id", "=", cid).execute();
      await tx.updateTable("acme_authorizations").set(a).where("id", "=", aid).where("status", "=", "pending").execute();
    }),
});
export type EnrollmentStore = ReturnType<typeof enrollmentStore>;
