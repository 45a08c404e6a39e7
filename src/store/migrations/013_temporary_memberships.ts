import type { Kysely } from "kysely";

// Temporary project access (Infisical's `isTemporary` roles): a membership may hold its role only from
// `access_starts_at` until `access_ends_at`. Both null: permanent, as every membership was before.
// `temporary_range` keeps what was asked ("1h"), for the answer's `temporaryRange`.
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable("memberships").addColumn("temporary_range", "text").execute();
  await db.schema.alterTable("memberships").addColumn("access_starts_at", "text").execute();
  await db.schema.alterTable("memberships").addColumn("access_ends_at", "text").execute();
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  for (const column of ["access_ends_at", "access_starts_at", "temporary_range"]) await db.schema.alterTable("memberships").dropColumn(column).execute();
};
