import type { Kysely } from "kysely";

// Secrets additions (named 003 because 002 is PKI). Portable column types only (text, integer).
export const up = async (db: Kysely<unknown>): Promise<void> => {
  // A version row keeps everything needed to answer `?version=N`: the non-secret fields go in one JSON
  // column (skipMultilineEncoding, tags, reminders; metadata stays sealed inside it when present).
  await db.schema.alterTable("secret_versions").addColumn("extra", "text", (c) => c.notNull().defaultTo("{}")).execute();

  // One counter per project, bumped in the same transaction as every secret, folder, import or tag write.
  // Readers compare it to decide whether a cached list answer is still current; being in the database,
  // it stays correct when several servers share one PostgreSQL database.
  await db.schema.createTable("secret_generations")
    .addColumn("project_id", "text", (c) => c.primaryKey().references("projects.id").onDelete("cascade"))
    .addColumn("generation", "integer", (c) => c.notNull())
    .execute();

  await db.schema.createIndex("folders_parent").on("folders").column("parent_id").execute();
  await db.schema.createIndex("secret_imports_folder").on("secret_imports").columns(["folder_id", "position"]).execute();
  await db.schema.createIndex("secrets_project").on("secrets").column("project_id").execute();
};
