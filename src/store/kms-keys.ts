import { sql, type Kysely } from "kysely";
import type { Database, KmsKeyTable, KmsKeyVersionTable } from "./schema.js";

export interface KmsKeyListQuery { offset: number; limit: number; orderDirection: "asc" | "desc"; search?: string }

/** `%` and `_` in a search are literal characters, not LIKE wildcards. */
const likeContaining = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export const kmsKeyStore = (db: Kysely<Database>) => ({
  /** A new key and its first version, together or not at all. */
  insert: (key: KmsKeyTable, version: KmsKeyVersionTable) =>
    db.transaction().execute(async (tx) => {
      await tx.insertInto("kms_keys").values(key).execute();
      await tx.insertInto("kms_key_versions").values(version).execute();
    }),
  get: (id: string) => db.selectFrom("kms_keys").selectAll().where("id", "=", id).executeTakeFirst(),
  getByName: (projectId: string, name: string) =>
    db.selectFrom("kms_keys").selectAll().where("project_id", "=", projectId).where("name", "=", name).executeTakeFirst(),
  /** One page of a project's keys by name (names are lower-case slugs, so a lower-cased search matches any case). */
  list: async (projectId: string, q: KmsKeyListQuery) => {
    let base = db.selectFrom("kms_keys").where("project_id", "=", projectId);
    if (q.search) base = base.where(sql<boolean>`name LIKE ${likeContaining(q.search.toLowerCase())} ESCAPE '\\'`);
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy("name", q.orderDirection).orderBy("id").offset(q.offset).limit(q.limit).execute(),
      base.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow(),
    ]);
    return { rows, totalCount: Number(count.n) };
  },
  update: (id: string, patch: Partial<Pick<KmsKeyTable, "name" | "description" | "is_disabled" | "updated_at">>) =>
    db.updateTable("kms_keys").set(patch).where("id", "=", id).execute(),
  delete: (id: string) => db.deleteFrom("kms_keys").where("id", "=", id).execute(),
  getVersion: (keyId: string, version: number) =>
    db.selectFrom("kms_key_versions").selectAll().where("kms_key_id", "=", keyId).where("version", "=", version).executeTakeFirst(),
  /** Every version's public key (sign-verify keys), newest first. */
  listPublicKeys: (keyId: string) =>
    db.selectFrom("kms_key_versions").select(["version", "public_key"]).where("kms_key_id", "=", keyId).orderBy("version", "desc").execute(),
  listVersions: (keyId: string) =>
    db.selectFrom("kms_key_versions").select(["kms_key_id", "version", "created_at"]).where("kms_key_id", "=", keyId).orderBy("version", "desc").execute(),
  /**
   * Makes `version` the key's current version if the key is still at the one before: false when another
   * rotation got there first (nothing is written then).
   */
  rotate: (version: KmsKeyVersionTable, updatedAt: string) =>
    db.transaction().execute(async (tx) => {
      const r = await tx.updateTable("kms_keys").set({ version: version.version, updated_at: updatedAt })
        .where("id", "=", version.kms_key_id).where("version", "=", version.version - 1).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await tx.insertInto("kms_key_versions").values(version).execute();
      return true;
    }),
});
export type KmsKeyStore = ReturnType<typeof kmsKeyStore>;
