import type { Kysely } from "kysely";

// PKI: certificate authorities, their certificates and CRLs, policies, profiles, the certificate
// inventory and certificate requests. Certificates and CRLs are public; private keys are sealed.
export const up = async (db: Kysely<unknown>): Promise<void> => {
  const ts = (t: any) => t.addColumn("created_at", "text", (c: any) => c.notNull()).addColumn("updated_at", "text", (c: any) => c.notNull());

  await ts(db.schema.createTable("certificate_authorities")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("disable_direct_issuance", "integer", (c) => c.notNull())
    .addColumn("configuration", "text", (c) => c.notNull())
    .addColumn("encrypted_private_key", "text", (c) => c.notNull())
    .addColumn("active_ca_cert_id", "text")
    .addUniqueConstraint("cas_project_name", ["project_id", "name"])).execute();

  await db.schema.createTable("ca_certificates")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("ca_id", "text", (c) => c.notNull().references("certificate_authorities.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("certificate", "text", (c) => c.notNull())
    .addColumn("certificate_chain", "text", (c) => c.notNull())
    .addColumn("serial_number", "text", (c) => c.notNull())
    .addColumn("not_before", "text", (c) => c.notNull())
    .addColumn("not_after", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull()).execute();

  await ts(db.schema.createTable("ca_crls")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("ca_id", "text", (c) => c.notNull().unique().references("certificate_authorities.id").onDelete("cascade"))
    .addColumn("crl_number", "integer", (c) => c.notNull())
    .addColumn("der", "text", (c) => c.notNull())
    .addColumn("this_update", "text", (c) => c.notNull())
    .addColumn("next_update", "text", (c) => c.notNull())).execute();

  await ts(db.schema.createTable("certificate_policies")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("rules", "text", (c) => c.notNull())
    .addUniqueConstraint("policies_project_name", ["project_id", "name"])).execute();

  await ts(db.schema.createTable("certificate_profiles")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("ca_id", "text", (c) => c.references("certificate_authorities.id"))
    .addColumn("policy_id", "text", (c) => c.notNull().references("certificate_policies.id"))
    .addColumn("slug", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("enrollment_type", "text", (c) => c.notNull())
    .addColumn("issuer_type", "text", (c) => c.notNull())
    .addColumn("api_config", "text")
    .addColumn("est_config", "text")
    .addColumn("acme_config", "text")
    .addColumn("defaults", "text")
    .addUniqueConstraint("profiles_project_slug", ["project_id", "slug"])).execute();

  await ts(db.schema.createTable("certificates")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("ca_id", "text")
    .addColumn("ca_cert_id", "text")
    .addColumn("profile_id", "text")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("serial_number", "text", (c) => c.notNull())
    .addColumn("common_name", "text", (c) => c.notNull())
    .addColumn("alt_names", "text", (c) => c.notNull())
    .addColumn("not_before", "text", (c) => c.notNull())
    .addColumn("not_after", "text", (c) => c.notNull())
    .addColumn("revoked_at", "text")
    .addColumn("revocation_reason", "integer")
    .addColumn("key_usages", "text", (c) => c.notNull())
    .addColumn("extended_key_usages", "text", (c) => c.notNull())
    .addColumn("key_algorithm", "text", (c) => c.notNull())
    .addColumn("signature_algorithm", "text", (c) => c.notNull())
    .addColumn("certificate", "text", (c) => c.notNull())
    .addColumn("certificate_chain", "text", (c) => c.notNull())
    .addColumn("encrypted_private_key", "text")
    .addColumn("fingerprint_sha256", "text", (c) => c.notNull())
    .addColumn("request", "text", (c) => c.notNull())
    .addColumn("renewed_from_id", "text")).execute();
  await db.schema.createIndex("certificates_ca_serial").on("certificates").columns(["ca_id", "serial_number"]).unique().execute();
  await db.schema.createIndex("certificates_project_not_after").on("certificates").columns(["project_id", "not_after"]).execute();

  await ts(db.schema.createTable("certificate_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("profile_id", "text")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("certificate_id", "text")
    .addColumn("error_message", "text")
    .addColumn("attributes", "text", (c) => c.notNull())).execute();
};
