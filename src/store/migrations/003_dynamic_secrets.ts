import type { Kysely } from "kysely";

// Portable column types only (SQLite and PostgreSQL share the migration set, see 001_core.ts).
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.createTable("dynamic_secrets")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("env_id", "text", (c) => c.notNull().references("environments.id").onDelete("cascade"))
    .addColumn("folder_id", "text", (c) => c.notNull().references("folders.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("default_ttl", "text", (c) => c.notNull())
    .addColumn("max_ttl", "text")
    .addColumn("encrypted_inputs", "text", (c) => c.notNull())
    .addColumn("status", "text")
    .addColumn("status_details", "text")
    .addColumn("username_template", "text")
    .addColumn("metadata", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("dynamic_secrets_folder_name", ["folder_id", "name"]).execute();

  await db.schema.createTable("dynamic_secret_leases")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("dynamic_secret_id", "text", (c) => c.notNull().references("dynamic_secrets.id").onDelete("cascade"))
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("external_entity_id", "text", (c) => c.notNull())
    .addColumn("expire_at", "text", (c) => c.notNull())
    .addColumn("encrypted_data", "text", (c) => c.notNull())
    .addColumn("status", "text")
    .addColumn("status_details", "text")
    .addColumn("config", "text")
    .addColumn("lock_until", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull()).execute();

  // The sweeper's query: leases past their expiry, oldest first.
  await db.schema.createIndex("dynamic_secret_leases_expire_at").on("dynamic_secret_leases").column("expire_at").execute();
  await db.schema.createIndex("dynamic_secret_leases_secret").on("dynamic_secret_leases").column("dynamic_secret_id").execute();
};
