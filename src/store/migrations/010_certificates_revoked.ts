import { sql, type Kysely } from "kysely";

// A CRL lists a CA's revoked certificates, and it is rebuilt on every revocation. Through the CA-and-serial
// index that read walked every certificate the CA ever issued (120-230 ms at 46,000, on the event loop); this
// partial index holds the revoked ones only (2-6 ms), and costs an issuance nothing.
export const up = async (db: Kysely<unknown>): Promise<void> => {
  // IF NOT EXISTS: on a large PostgreSQL inventory an operator may build it first without blocking writes
  // (server.md: CREATE INDEX CONCURRENTLY), and this migration then has nothing left to do.
  await db.schema.createIndex("certificates_revoked").ifNotExists().on("certificates").column("ca_id").where(sql.ref("status"), "=", sql.lit("revoked")).execute();
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.dropIndex("certificates_revoked").execute();
};
