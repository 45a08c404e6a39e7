import type { Kysely } from "kysely";

// Workload identity (issue 7): cloud/cluster auth methods, service key pairs, instance register tokens and
// the certificates issued to service identities. Portable column types only (text, integer).
export const up = async (db: Kysely<unknown>): Promise<void> => {
  // One row per (identity, method). Non-secret settings are JSON; secrets (a TokenReview JWT) are sealed
  // with the root key, since an identity belongs to an organization, not to a project.
  await db.schema.createTable("identity_workload_auths")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("identity_id", "text", (c) => c.notNull().references("identities.id").onDelete("cascade"))
    .addColumn("method", "text", (c) => c.notNull())
    // Set for service-key and tls-cert: the project whose profile issues and whose CAs are trusted.
    .addColumn("project_id", "text", (c) => c.references("projects.id").onDelete("cascade"))
    .addColumn("config", "text", (c) => c.notNull())
    .addColumn("encrypted_secrets", "text")
    .addColumn("access_token_ttl", "integer", (c) => c.notNull())
    .addColumn("access_token_max_ttl", "integer", (c) => c.notNull())
    .addColumn("access_token_num_uses_limit", "integer", (c) => c.notNull())
    .addColumn("access_token_trusted_ips", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("identity_workload_auths_identity_method", ["identity_id", "method"])
    .execute();

  await db.schema.createTable("service_public_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("identity_id", "text", (c) => c.notNull().references("identities.id").onDelete("cascade"))
    .addColumn("key_version", "text", (c) => c.notNull())
    .addColumn("public_key", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("service_public_keys_identity_version", ["identity_id", "key_version"])
    .execute();

  // A service JWT's jti is remembered until the JWT expires; the primary key makes a replay lose the race.
  await db.schema.createTable("used_jtis")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("used_jtis_expires").on("used_jtis").column("expires_at").execute();

  await db.schema.createTable("instance_register_tokens")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("identity_id", "text", (c) => c.notNull().references("identities.id").onDelete("cascade"))
    .addColumn("instance_id", "text", (c) => c.notNull())
    .addColumn("token_hash", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .addColumn("used_at", "text")
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();

  // Which service identity a certificate was issued to, so renewal over mTLS keeps identity and names.
  await db.schema.createTable("service_certificates")
    .addColumn("certificate_id", "text", (c) => c.primaryKey().references("certificates.id").onDelete("cascade"))
    .addColumn("identity_id", "text", (c) => c.notNull().references("identities.id").onDelete("cascade"))
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("profile_id", "text", (c) => c.notNull())
    .addColumn("instance_id", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("certificates_fingerprint").on("certificates").column("fingerprint_sha256").execute();
};
