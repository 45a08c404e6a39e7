import type { Kysely } from "kysely";

// External CAs (issue 9): an upstream ACME CA used as a profile's issuer, and the orders placed with it.
// The CA itself is a row of certificate_authorities (type "acme") so profiles reference it by caId as usual;
// these tables hold what only an external CA has. Portable column types only (text, integer).
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.createTable("external_cas")
    .addColumn("ca_id", "text", (c) => c.primaryKey().references("certificate_authorities.id").onDelete("cascade"))
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("directory_url", "text", (c) => c.notNull())
    .addColumn("account_email", "text", (c) => c.notNull())
    // Learnt from newAccount (RFC 8555 7.3); null until the first order.
    .addColumn("account_url", "text")
    // JSON {accountKey, eabHmacKey?, dns?: {tsigSecret}}, sealed with the project key.
    .addColumn("encrypted_secrets", "text", (c) => c.notNull())
    .addColumn("eab_kid", "text")
    .addColumn("challenge_type", "text", (c) => c.notNull())
    // JSON of the DNS provider's non-secret settings.
    .addColumn("dns_config", "text")
    .addColumn("ca_bundle", "text")
    .addColumn("order_timeout_seconds", "integer", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();

  // One row per asynchronous certificate request; the worker advances it until it is issued or failed, so an
  // order survives a restart. certificate_requests keeps the status clients poll.
  await db.schema.createTable("external_orders")
    .addColumn("request_id", "text", (c) => c.primaryKey().references("certificate_requests.id").onDelete("cascade"))
    .addColumn("ca_id", "text", (c) => c.notNull().references("certificate_authorities.id").onDelete("cascade"))
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("profile_id", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("order_url", "text")
    .addColumn("csr", "text", (c) => c.notNull())
    .addColumn("encrypted_private_key", "text")
    // JSON: identifiers and the inventory fields of the certificate to come.
    .addColumn("details", "text", (c) => c.notNull())
    .addColumn("deadline", "text", (c) => c.notNull())
    .addColumn("next_attempt_at", "text", (c) => c.notNull())
    .addColumn("lock_until", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("external_orders_due").on("external_orders").columns(["state", "next_attempt_at"]).execute();

  // http-01 key authorizations this server answers at /.well-known/acme-challenge/:token (RFC 8555 8.3).
  await db.schema.createTable("external_http_challenges")
    .addColumn("token", "text", (c) => c.primaryKey())
    .addColumn("request_id", "text", (c) => c.notNull().references("external_orders.request_id").onDelete("cascade"))
    .addColumn("key_authorization", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.dropTable("external_http_challenges").execute();
  await db.schema.dropTable("external_orders").execute();
  await db.schema.dropTable("external_cas").execute();
};
