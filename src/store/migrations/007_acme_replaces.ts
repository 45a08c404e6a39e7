import type { Kysely } from "kysely";

// RFC 9773 5: newOrder refuses to replace a certificate another live order already replaces, which is a
// lookup of acme_orders by `replaces` on every renewal that names one.
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.createIndex("acme_orders_replaces").on("acme_orders").column("replaces").execute();
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.dropIndex("acme_orders_replaces").execute();
};
