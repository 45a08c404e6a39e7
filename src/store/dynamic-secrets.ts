import type { Kysely } from "kysely";
import type { Database, DynamicSecretLeaseTable, DynamicSecretTable } from "./schema.js";

export const dynamicSecretStore = (db: Kysely<Database>) => ({
  insert: (row: DynamicSecretTable) => db.insertInto("dynamic_secrets").values(row).execute(),
  get: (id: string) => db.selectFrom("dynamic_secrets").selectAll().where("id", "=", id).executeTakeFirst(),
  getByName: (folderId: string, name: string) =>
    db.selectFrom("dynamic_secrets").selectAll().where("folder_id", "=", folderId).where("name", "=", name).executeTakeFirst(),
  list: (folderId: string) => db.selectFrom("dynamic_secrets").selectAll().where("folder_id", "=", folderId).orderBy("created_at").orderBy("name").execute(),
  update: (id: string, patch: Partial<DynamicSecretTable>) => db.updateTable("dynamic_secrets").set(patch).where("id", "=", id).execute(),
  /** Leases go with it (foreign key cascade); the service revokes them first. */
  delete: (id: string) => db.deleteFrom("dynamic_secrets").where("id", "=", id).execute(),

  insertLease: (row: DynamicSecretLeaseTable) => db.insertInto("dynamic_secret_leases").values(row).execute(),
  getLease: (id: string) => db.selectFrom("dynamic_secret_leases").selectAll().where("id", "=", id).executeTakeFirst(),
  listLeases: (dynamicSecretId: string) =>
    db.selectFrom("dynamic_secret_leases").selectAll().where("dynamic_secret_id", "=", dynamicSecretId).orderBy("created_at").execute(),
  /** Expired leases nobody is working on, oldest first (the sweeper's batch). */
  listExpiredLeases: (now: string, limit: number) =>
    db.selectFrom("dynamic_secret_leases").selectAll().where("expire_at", "<=", now)
      .where((eb) => eb.or([eb("lock_until", "is", null), eb("lock_until", "<", now)]))
      .orderBy("expire_at").limit(limit).execute(),
  updateLease: (id: string, patch: Partial<DynamicSecretLeaseTable>) => db.updateTable("dynamic_secret_leases").set(patch).where("id", "=", id).execute(),
  deleteLease: (id: string) => db.deleteFrom("dynamic_secret_leases").where("id", "=", id).execute(),

  /**
   * Takes the lease for one provider operation, so a client's revoke, a renewal and the sweeper (of this or
   * another server sharing the database) never run statements for the same lease at once. The lock lapses
   * at `until`, so a crashed holder does not block the lease forever. True when taken.
   */
  lockLease: async (id: string, now: string, until: string): Promise<boolean> => {
    const r = await db.updateTable("dynamic_secret_leases").set({ lock_until: until }).where("id", "=", id)
      .where((eb) => eb.or([eb("lock_until", "is", null), eb("lock_until", "<", now)])).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  },
});
export type DynamicSecretStore = ReturnType<typeof dynamicSecretStore>;
