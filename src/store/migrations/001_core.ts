import type { Kysely } from "kysely";

// One migration set for SQLite and PostgreSQL: only portable column types (text, integer, bigint).
export const up = async (db: Kysely<unknown>): Promise<void> => {
  const ts = (t: any) => t.addColumn("created_at", "text", (c: any) => c.notNull()).addColumn("updated_at", "text", (c: any) => c.notNull());

  await db.schema.createTable("meta").addColumn("key", "text", (c) => c.primaryKey()).addColumn("value", "text", (c) => c.notNull()).execute();

  await ts(db.schema.createTable("organizations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("slug", "text", (c) => c.notNull().unique())).execute();

  await ts(db.schema.createTable("users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("email", "text", (c) => c.notNull().unique())
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("first_name", "text", (c) => c.notNull())
    .addColumn("last_name", "text", (c) => c.notNull())
    .addColumn("super_admin", "integer", (c) => c.notNull())
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id"))).execute();

  await ts(db.schema.createTable("identities")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("org_role", "text", (c) => c.notNull())
    .addColumn("has_delete_protection", "integer", (c) => c.notNull())
    .addColumn("metadata", "text", (c) => c.notNull())).execute();

  await ts(db.schema.createTable("universal_auths")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("identity_id", "text", (c) => c.notNull().unique().references("identities.id").onDelete("cascade"))
    .addColumn("client_id", "text", (c) => c.notNull().unique())
    .addColumn("access_token_ttl", "integer", (c) => c.notNull())
    .addColumn("access_token_max_ttl", "integer", (c) => c.notNull())
    .addColumn("access_token_num_uses_limit", "integer", (c) => c.notNull())
    .addColumn("access_token_period", "integer", (c) => c.notNull())
    .addColumn("client_secret_trusted_ips", "text", (c) => c.notNull())
    .addColumn("access_token_trusted_ips", "text", (c) => c.notNull())
    .addColumn("lockout_enabled", "integer", (c) => c.notNull())
    .addColumn("lockout_threshold", "integer", (c) => c.notNull())
    .addColumn("lockout_duration_seconds", "integer", (c) => c.notNull())
    .addColumn("lockout_counter_reset_seconds", "integer", (c) => c.notNull())).execute();

  await ts(db.schema.createTable("client_secrets")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("identity_ua_id", "text", (c) => c.notNull().references("universal_auths.id").onDelete("cascade"))
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("secret_hash", "text", (c) => c.notNull().unique())
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("num_uses", "integer", (c) => c.notNull())
    .addColumn("num_uses_limit", "integer", (c) => c.notNull())
    .addColumn("ttl", "integer", (c) => c.notNull())
    .addColumn("is_revoked", "integer", (c) => c.notNull())).execute();

  await db.schema.createTable("ua_lockouts")
    .addColumn("identity_ua_id", "text", (c) => c.primaryKey().references("universal_auths.id").onDelete("cascade"))
    .addColumn("failures", "integer", (c) => c.notNull())
    .addColumn("window_started_at", "text", (c) => c.notNull())
    .addColumn("locked_until", "text").execute();

  await ts(db.schema.createTable("access_tokens")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("identity_id", "text", (c) => c.notNull().references("identities.id").onDelete("cascade"))
    .addColumn("secret_hash", "text", (c) => c.notNull())
    .addColumn("auth_method", "text", (c) => c.notNull())
    .addColumn("ttl", "integer", (c) => c.notNull())
    .addColumn("max_ttl", "integer", (c) => c.notNull())
    .addColumn("num_uses", "integer", (c) => c.notNull())
    .addColumn("num_uses_limit", "integer", (c) => c.notNull())
    .addColumn("period", "integer", (c) => c.notNull())
    .addColumn("trusted_ips", "text", (c) => c.notNull())
    .addColumn("is_revoked", "integer", (c) => c.notNull())
    .addColumn("last_renewed_at", "text", (c) => c.notNull())).execute();

  await ts(db.schema.createTable("projects")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("slug", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("encrypted_data_key", "text", (c) => c.notNull())
    .addColumn("auto_capitalization", "integer", (c) => c.notNull())
    .addColumn("has_delete_protection", "integer", (c) => c.notNull())
    .addUniqueConstraint("projects_org_slug", ["org_id", "slug"])).execute();

  await ts(db.schema.createTable("environments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("slug", "text", (c) => c.notNull())
    .addColumn("position", "integer", (c) => c.notNull())
    .addUniqueConstraint("environments_project_slug", ["project_id", "slug"])).execute();

  await ts(db.schema.createTable("folders")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("env_id", "text", (c) => c.notNull().references("environments.id").onDelete("cascade"))
    .addColumn("parent_id", "text", (c) => c.references("folders.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("path", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("last_secret_modified", "text")
    .addUniqueConstraint("folders_env_path", ["env_id", "path"])).execute();

  await ts(db.schema.createTable("memberships")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("identity_id", "text", (c) => c.notNull().references("identities.id").onDelete("cascade"))
    .addColumn("role", "text", (c) => c.notNull())
    .addUniqueConstraint("memberships_project_identity", ["project_id", "identity_id"])).execute();

  await ts(db.schema.createTable("secrets")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("env_id", "text", (c) => c.notNull().references("environments.id").onDelete("cascade"))
    .addColumn("folder_id", "text", (c) => c.notNull().references("folders.id").onDelete("cascade"))
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("encrypted_value", "text", (c) => c.notNull())
    .addColumn("encrypted_comment", "text", (c) => c.notNull())
    .addColumn("skip_multiline_encoding", "integer", (c) => c.notNull())
    .addColumn("reminder_note", "text")
    .addColumn("reminder_repeat_days", "integer")
    .addColumn("metadata", "text", (c) => c.notNull())
    .addColumn("tag_ids", "text", (c) => c.notNull())
    .addUniqueConstraint("secrets_folder_key_type", ["folder_id", "key", "type"])).execute();

  await db.schema.createTable("secret_versions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("secret_id", "text", (c) => c.notNull().references("secrets.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("encrypted_value", "text", (c) => c.notNull())
    .addColumn("encrypted_comment", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("secret_versions_secret_version", ["secret_id", "version"]).execute();

  await ts(db.schema.createTable("secret_imports")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("folder_id", "text", (c) => c.notNull().references("folders.id").onDelete("cascade"))
    .addColumn("position", "integer", (c) => c.notNull())
    .addColumn("import_env_id", "text", (c) => c.notNull().references("environments.id").onDelete("cascade"))
    .addColumn("import_path", "text", (c) => c.notNull())
    .addColumn("is_replication", "integer", (c) => c.notNull())).execute();

  await ts(db.schema.createTable("tags")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("slug", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("color", "text")
    .addUniqueConstraint("tags_project_slug", ["project_id", "slug"])).execute();

  await db.schema.createTable("audit_logs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text")
    .addColumn("project_id", "text")
    .addColumn("actor_type", "text", (c) => c.notNull())
    .addColumn("actor_id", "text")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("resource_type", "text", (c) => c.notNull())
    .addColumn("resource_id", "text")
    .addColumn("ip", "text")
    .addColumn("user_agent", "text")
    .addColumn("metadata", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull()).execute();

  await db.schema.createIndex("audit_logs_project_created").on("audit_logs").columns(["project_id", "created_at"]).execute();
  await db.schema.createIndex("secrets_env_key").on("secrets").columns(["env_id", "key"]).execute();
  await db.schema.createIndex("access_tokens_identity").on("access_tokens").column("identity_id").execute();
};
