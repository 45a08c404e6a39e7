import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.js";

/** How each value the root key seals directly is turned into the same value under another key. */
export interface RootRewrap {
  /** projects.encrypted_data_key: the project's data key, wrapped. */
  dataKey(projectId: string, wrapped: string): string;
  /** identity_workload_auths.encrypted_secrets of the row. */
  workloadSecrets(rowId: string, sealed: string): string;
  /** The new key's check value and fingerprint (meta). */
  check: { value: string; fingerprint: string };
}

/**
 * Everything sealed with the root key itself (the rest is sealed with project data keys, which do not change),
 * rewritten in one transaction: a failure leaves the database as it was, under the old key.
 */
export const rewrapRootSealed = (db: Kysely<Database>, f: RootRewrap): Promise<{ projects: number; authMethods: number }> =>
  db.transaction().execute(async (tx) => {
    const projects = await tx.selectFrom("projects").select(["id", "encrypted_data_key"]).execute();
    for (const p of projects) await tx.updateTable("projects").set({ encrypted_data_key: f.dataKey(p.id, p.encrypted_data_key) }).where("id", "=", p.id).execute();
    const auths = await tx.selectFrom("identity_workload_auths").select(["id", "encrypted_secrets"]).where("encrypted_secrets", "is not", null).execute();
    for (const a of auths) await tx.updateTable("identity_workload_auths").set({ encrypted_secrets: f.workloadSecrets(a.id, a.encrypted_secrets!) }).where("id", "=", a.id).execute();
    for (const [key, value] of [["root_key_check", f.check.value], ["root_key_fingerprint", f.check.fingerprint]] as const) {
      const r = await tx.updateTable("meta").set({ value }).where("key", "=", key).executeTakeFirst();
      if (!r.numUpdatedRows) await tx.insertInto("meta").values({ key, value }).execute();
    }
    return { projects: projects.length, authMethods: auths.length };
  });

/** Other sessions on the same PostgreSQL database (kms servers that would go on with the old key). */
export const otherPostgresSessions = async (db: Kysely<Database>): Promise<number> => {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(db);
  return Number(rows[0]?.n ?? 0);
};
