import type { ExpressionBuilder, Kysely, Transaction } from "kysely";
import { dialectOf } from "./prepared.js";
import type { Database, DynamicSecretLeaseTable, DynamicSecretTable } from "./schema.js";
import { underPath } from "./secrets.js";

/** A project, one of its environments, or a folder with everything below it. */
export type DynamicSecretScope =
  | { kind: "project"; projectId: string }
  | { kind: "environment"; envId: string }
  | { kind: "folder"; envId: string; path: string };

/** The folders of a folder scope: the folder and its subtree. */
const folderIdsIn = (db: Kysely<Database>, envId: string, path: string) =>
  db.selectFrom("folders").select("id").where("env_id", "=", envId)
    .where((eb) => (path === "/" ? eb.lit(true) : eb.or([eb("path", "=", path), underPath("path", path)])));

const dynamicSecretInScope = (db: Kysely<Database>, scope: DynamicSecretScope) => (eb: ExpressionBuilder<Database, "dynamic_secrets">) =>
  scope.kind === "project" ? eb("dynamic_secrets.project_id", "=", scope.projectId)
  : scope.kind === "environment" ? eb("dynamic_secrets.env_id", "=", scope.envId)
  : eb("dynamic_secrets.folder_id", "in", folderIdsIn(db, scope.envId, scope.path));

/**
 * Called inside the transaction that deletes `scope`, just before the delete: the dynamic secrets the cascade
 * is about to take (so each gets its own audit event, also one created while the delete was under way), or
 * false while a dynamic-secret lease is still recorded in the scope. The cascade would forget such a lease
 * while its user still exists at the target, so the caller deletes nothing then. On PostgreSQL the scope's own
 * rows and its dynamic secrets are locked first: the foreign-key check of a concurrent insert of a dynamic
 * secret or lease waits for these locks and then fails, so nothing slips in between this check and the delete.
 * SQLite runs one transaction at a time.
 */
export const dynamicSecretsGoingWith = async (tx: Transaction<Database>, scope: DynamicSecretScope): Promise<DynamicSecretTable[] | false> => {
  const postgres = dialectOf(tx) === "postgres";
  if (postgres) {
    if (scope.kind === "project") await tx.selectFrom("projects").select("id").where("id", "=", scope.projectId).forUpdate().execute();
    else if (scope.kind === "environment") await tx.selectFrom("environments").select("id").where("id", "=", scope.envId).forUpdate().execute();
    else await folderIdsIn(tx, scope.envId, scope.path).forUpdate().execute();
  }
  const inScope = tx.selectFrom("dynamic_secrets").selectAll().where(dynamicSecretInScope(tx, scope));
  const going = await (postgres ? inScope.forUpdate() : inScope).execute();
  const lease = await tx.selectFrom("dynamic_secret_leases").select("id")
    .where("dynamic_secret_id", "in", tx.selectFrom("dynamic_secrets").select("id").where(dynamicSecretInScope(tx, scope)))
    .limit(1).executeTakeFirst();
  return lease === undefined && going;
};

export const dynamicSecretStore = (db: Kysely<Database>) => ({
  /** The dynamic secrets of a project, an environment or a folder subtree, with the path of the folder each is in. */
  listInScope: (scope: DynamicSecretScope) =>
    db.selectFrom("dynamic_secrets").innerJoin("folders", "folders.id", "dynamic_secrets.folder_id")
      .selectAll("dynamic_secrets").select("folders.path as folder_path")
      .where(dynamicSecretInScope(db, scope)).orderBy("folders.path").orderBy("dynamic_secrets.name").execute(),
  insert: (row: DynamicSecretTable) => db.insertInto("dynamic_secrets").values(row).execute(),
  get: (id: string) => db.selectFrom("dynamic_secrets").selectAll().where("id", "=", id).executeTakeFirst(),
  getByName: (folderId: string, name: string) =>
    db.selectFrom("dynamic_secrets").selectAll().where("folder_id", "=", folderId).where("name", "=", name).executeTakeFirst(),
  list: (folderId: string) => db.selectFrom("dynamic_secrets").selectAll().where("folder_id", "=", folderId).orderBy("created_at").orderBy("name").execute(),
  update: (id: string, patch: Partial<DynamicSecretTable>) => db.updateTable("dynamic_secrets").set(patch).where("id", "=", id).execute(),
  /**
   * Deletes a dynamic secret unless it has a lease other than `known` (those the caller revoked or, forced,
   * gave up on): the cascade would forget such a lease while its user still exists at the target. False
   * then, deleting nothing. On PostgreSQL the row is locked first, so a concurrent lease insert (whose
   * foreign-key check waits for the lock) either is seen here or fails; SQLite runs one transaction at a time.
   */
  deleteUnlessOtherLeases: (id: string, known: string[]) =>
    db.transaction().execute(async (tx) => {
      if (dialectOf(tx) === "postgres") await tx.selectFrom("dynamic_secrets").select("id").where("id", "=", id).forUpdate().execute();
      let other = tx.selectFrom("dynamic_secret_leases").select("id").where("dynamic_secret_id", "=", id);
      if (known.length) other = other.where("id", "not in", known);
      if (await other.limit(1).executeTakeFirst()) return false;
      await tx.deleteFrom("dynamic_secrets").where("id", "=", id).execute();
      return true;
    }),

  /**
   * False, inserting nothing, when its dynamic secret (or project) is gone: deleted while the lease was being
   * made at the target. The caller then removes the user it made there.
   */
  insertLease: async (row: DynamicSecretLeaseTable): Promise<boolean> => {
    try {
      await db.insertInto("dynamic_secret_leases").values(row).execute();
      return true;
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code;
      if (code === "23503" || code === "SQLITE_CONSTRAINT_FOREIGNKEY") return false;
      throw e;
    }
  },
  getLease: (id: string) => db.selectFrom("dynamic_secret_leases").selectAll().where("id", "=", id).executeTakeFirst(),
  listLeases: (dynamicSecretId: string) =>
    db.selectFrom("dynamic_secret_leases").selectAll().where("dynamic_secret_id", "=", dynamicSecretId).orderBy("created_at").execute(),
  /**
   * Expired leases nobody is working on, oldest first (the sweeper's batch): those whose revocation failed
   * before (`status` set) when `failedBefore`, the others otherwise.
   */
  listExpiredLeases: (now: string, limit: number, failedBefore: boolean) =>
    db.selectFrom("dynamic_secret_leases").selectAll().where("expire_at", "<=", now)
      .where("status", failedBefore ? "is not" : "is", null)
      .where((eb) => eb.or([eb("lock_until", "is", null), eb("lock_until", "<", now)]))
      .orderBy("expire_at").limit(limit).execute(),
  updateLease: (id: string, patch: Partial<DynamicSecretLeaseTable>) => db.updateTable("dynamic_secret_leases").set(patch).where("id", "=", id).execute(),
  deleteLease: (id: string) => db.deleteFrom("dynamic_secret_leases").where("id", "=", id).execute(),

  /**
   * Takes the lease for one provider operation, so a client's revoke, a renewal and the sweeper (of this or
   * another server sharing the database) never run statements for the same lease at once. The lock lapses
   * at `until`, so a crashed holder does not block the lease forever. True when taken. With `onlyIfExpired`
   * (the sweeper) not taken unless the lease is still expired: it may have been renewed since it was listed.
   */
  lockLease: async (id: string, now: string, until: string, onlyIfExpired = false): Promise<boolean> => {
    let q = db.updateTable("dynamic_secret_leases").set({ lock_until: until }).where("id", "=", id)
      .where((eb) => eb.or([eb("lock_until", "is", null), eb("lock_until", "<", now)]));
    if (onlyIfExpired) q = q.where("expire_at", "<=", now);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  },
});
export type DynamicSecretStore = ReturnType<typeof dynamicSecretStore>;
