import type { Kysely } from "kysely";

// The fingerprint index served one lookup (TLS certificate auth), and its random-order inserts were the
// costliest write of every issuance: ~13 KB more WAL and checkpoint traffic and ~10% more CPU per certificate
// (docs/pki.md). That lookup now goes by issuing CA and serial number (certificates_ca_serial) and compares the
// fingerprint of the row it finds, which is as exact.
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.dropIndex("certificates_fingerprint").execute();
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.createIndex("certificates_fingerprint").on("certificates").column("fingerprint_sha256").execute();
};
