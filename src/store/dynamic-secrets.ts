import type { Kysely } from "kysely";
import type { Database, DynamicSecretLeaseTable, DynamicSecretTable } from "./schema.js";

export const dynamicSecretStore = (db: Kysely<Database>) => ({
  /**
   * How many dynamic secrets live in a project, an environment or a folder subtree. Deleting any of these
   * cascades in the database, which would forget leases whose users still exist at their targets.
   */
  countInScope: async (scope: { projectId: string } | { envId: string; folderPath?: string }) => {
    let q = db.selectFrom("dynamic_secrets").innerJoin("folders", "folders.id", "dynamic_secrets.folder_id").select((eb) => eb.fn.countAll().as("n"));
    if ("projectId" in scope) q = q.where("dynamic_secrets.project_id", "=", scope.projectId);
    else {
      q = q.where("dynamic_secrets.env_id", "=", scope.envId);
      const path = scope.folderPath;
      // A prefix test without LIKE: folder names may contain "_", which LIKE treats as a wildcard.
      if (path && path !== "/")
        q = q.where((eb) => eb.or([
          eb("folders.path", "=", path),
          eb(eb.fn("substr", [eb.ref("folders.path"), eb.val(1), eb.val(path.length + 1)]), "=", `${path}/`),
        ]));
    }
    return Number((await q.executeTakeFirstOrThrow()).n);
  },
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
