import type { Kysely } from "kysely";

// Customer-managed keys (api.md 6). Portable column types only (SQLite and PostgreSQL share the migration
// set, see 001_core.ts). A key's material lives in kms_key_versions, one row per version, so ciphertext made
// with an older version still decrypts after a rotation.
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.createTable("kms_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("is_disabled", "integer", (c) => c.notNull())
    .addColumn("key_usage", "text", (c) => c.notNull())
    .addColumn("algorithm", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("kms_keys_project_name", ["project_id", "name"]).execute();

  await db.schema.createTable("kms_key_versions")
    .addColumn("kms_key_id", "text", (c) => c.notNull().references("kms_keys.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("encrypted_material", "text", (c) => c.notNull())
    .addColumn("public_key", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("kms_key_versions_pk", ["kms_key_id", "version"]).execute();
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.dropTable("kms_key_versions").execute();
  await db.schema.dropTable("kms_keys").execute();
};
