import type { Kysely } from "kysely";

// ACME (RFC 8555) state per certificate profile: accounts, external-account-binding credentials, orders,
// authorizations, challenges and nonces. Nonces live in the database, not in memory, so several server
// processes behind one load balancer (PostgreSQL, HA) accept each other's nonces. EST needs no table: its
// passphrase hash sits in the profile's est_config. Portable column types only (see 001_core.ts).
export const up = async (db: Kysely<unknown>): Promise<void> => {
  const ts = (t: any) => t.addColumn("created_at", "text", (c: any) => c.notNull()).addColumn("updated_at", "text", (c: any) => c.notNull());

  await ts(db.schema.createTable("acme_eab_credentials")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("profile_id", "text", (c) => c.notNull().references("certificate_profiles.id").onDelete("cascade"))
    .addColumn("description", "text")
    .addColumn("encrypted_hmac_key", "text", (c) => c.notNull())).execute();

  await ts(db.schema.createTable("acme_accounts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("profile_id", "text", (c) => c.notNull().references("certificate_profiles.id").onDelete("cascade"))
    .addColumn("thumbprint", "text", (c) => c.notNull())
    .addColumn("jwk", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("contact", "text", (c) => c.notNull())
    .addColumn("eab_id", "text")
    .addUniqueConstraint("acme_accounts_profile_thumbprint", ["profile_id", "thumbprint"])).execute();

  await ts(db.schema.createTable("acme_orders")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("account_id", "text", (c) => c.notNull().references("acme_accounts.id").onDelete("cascade"))
    .addColumn("profile_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("identifiers", "text", (c) => c.notNull())
    .addColumn("not_before", "text")
    .addColumn("not_after", "text")
    .addColumn("expires", "text", (c) => c.notNull())
    .addColumn("error", "text")
    .addColumn("certificate_id", "text")
    .addColumn("replaces", "text")).execute();
  await db.schema.createIndex("acme_orders_account").on("acme_orders").column("account_id").execute();
  await db.schema.createIndex("acme_orders_certificate").on("acme_orders").column("certificate_id").execute();

  await ts(db.schema.createTable("acme_authorizations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("account_id", "text", (c) => c.notNull().references("acme_accounts.id").onDelete("cascade"))
    .addColumn("order_id", "text", (c) => c.notNull().references("acme_orders.id").onDelete("cascade"))
    .addColumn("identifier_type", "text", (c) => c.notNull())
    .addColumn("identifier_value", "text", (c) => c.notNull())
    .addColumn("wildcard", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("expires", "text", (c) => c.notNull())).execute();
  await db.schema.createIndex("acme_authorizations_order").on("acme_authorizations").column("order_id").execute();
  await db.schema.createIndex("acme_authorizations_account_value").on("acme_authorizations").columns(["account_id", "identifier_value"]).execute();

  await ts(db.schema.createTable("acme_challenges")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("authz_id", "text", (c) => c.notNull().references("acme_authorizations.id").onDelete("cascade"))
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("token", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("validated", "text")
    .addColumn("error", "text")).execute();
  await db.schema.createIndex("acme_challenges_authz").on("acme_challenges").column("authz_id").execute();

  await db.schema.createTable("acme_nonces")
    .addColumn("value", "text", (c) => c.primaryKey())
    .addColumn("expires_at", "text", (c) => c.notNull()).execute();
  await db.schema.createIndex("acme_nonces_expires").on("acme_nonces").column("expires_at").execute();
};
