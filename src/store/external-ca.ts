import type { Kysely } from "kysely";
import type {
  CertificateAuthorityTable, CertificateRequestTable, CertificateTable, Database, ExternalCaTable, ExternalOrderTable,
} from "./schema.js";

export const externalCaStore = (db: Kysely<Database>) => ({
  /** The CA row profiles point at and its ACME settings land together. */
  insertCa: (ca: CertificateAuthorityTable, ext: ExternalCaTable) =>
    db.transaction().execute(async (tx) => {
      await tx.insertInto("certificate_authorities").values(ca).execute();
      await tx.insertInto("external_cas").values(ext).execute();
    }),
  getCa: (caId: string) => db.selectFrom("external_cas").selectAll().where("ca_id", "=", caId).executeTakeFirst(),
  /** The external CA a certificate was ordered from (its request's order), if it was. */
  caOfCertificate: async (certificateId: string) =>
    (await db.selectFrom("external_orders").innerJoin("certificate_requests as r", "r.id", "external_orders.request_id")
      .select("external_orders.ca_id").where("r.certificate_id", "=", certificateId).executeTakeFirst())?.ca_id,
  listCas: (projectId: string) => db.selectFrom("external_cas").selectAll().where("project_id", "=", projectId).orderBy("created_at").execute(),
  setAccountUrl: (caId: string, url: string, now: string) =>
    db.updateTable("external_cas").set({ account_url: url, updated_at: now }).where("ca_id", "=", caId).execute(),

  /** A pending request and its order row land together, so the worker sees every pending request. */
  insertPending: (request: CertificateRequestTable, order: ExternalOrderTable) =>
    db.transaction().execute(async (tx) => {
      await tx.insertInto("certificate_requests").values(request).execute();
      await tx.insertInto("external_orders").values(order).execute();
    }),
  getOrder: (requestId: string) => db.selectFrom("external_orders").selectAll().where("request_id", "=", requestId).executeTakeFirst(),
  /**
   * Claims one due order for `leaseMs`: the conditional update is what makes two workers (two server processes on
   * one database) never advance the same order at once.
   */
  claimDue: async (now: string, leaseUntil: string, limit: number) => {
    const due = await db.selectFrom("external_orders").select("request_id").where("state", "!=", "done")
      .where("next_attempt_at", "<=", now).where((eb) => eb.or([eb("lock_until", "is", null), eb("lock_until", "<", now)]))
      .orderBy("next_attempt_at").limit(limit).execute();
    const claimed: ExternalOrderTable[] = [];
    for (const { request_id } of due) {
      const r = await db.updateTable("external_orders").set({ lock_until: leaseUntil }).where("request_id", "=", request_id)
        .where((eb) => eb.or([eb("lock_until", "is", null), eb("lock_until", "<", now)])).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) {
        const row = await db.selectFrom("external_orders").selectAll().where("request_id", "=", request_id).executeTakeFirst();
        if (row) claimed.push(row);
      }
    }
    return claimed;
  },
  updateOrder: (requestId: string, patch: Partial<ExternalOrderTable>) =>
    db.updateTable("external_orders").set(patch).where("request_id", "=", requestId).execute(),

  putHttpChallenge: (requestId: string, token: string, keyAuthorization: string, now: string) =>
    db.insertInto("external_http_challenges").values({ token, request_id: requestId, key_authorization: keyAuthorization, created_at: now })
      .onConflict((oc) => oc.column("token").doUpdateSet({ key_authorization: keyAuthorization })).execute(),
  getHttpChallenge: (token: string) => db.selectFrom("external_http_challenges").selectAll().where("token", "=", token).executeTakeFirst(),

  /** The certificate reaches the inventory and its request becomes `issued` in one transaction. */
  completeIssued: (requestId: string, cert: CertificateTable, now: string) =>
    db.transaction().execute(async (tx) => {
      await tx.insertInto("certificates").values(cert).execute();
      await tx.updateTable("certificate_requests").set({ status: "issued", certificate_id: cert.id, error_message: null, updated_at: now }).where("id", "=", requestId).execute();
      await tx.updateTable("external_orders").set({ state: "done", encrypted_private_key: null, lock_until: null, updated_at: now }).where("request_id", "=", requestId).execute();
      await tx.deleteFrom("external_http_challenges").where("request_id", "=", requestId).execute();
    }),
  completeFailed: (requestId: string, message: string, now: string) =>
    db.transaction().execute(async (tx) => {
      await tx.updateTable("certificate_requests").set({ status: "failed", error_message: message, updated_at: now }).where("id", "=", requestId).execute();
      await tx.updateTable("external_orders").set({ state: "done", encrypted_private_key: null, lock_until: null, updated_at: now }).where("request_id", "=", requestId).execute();
      await tx.deleteFrom("external_http_challenges").where("request_id", "=", requestId).execute();
    }),
});
export type ExternalCaStore = ReturnType<typeof externalCaStore>;
