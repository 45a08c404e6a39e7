import type { Kysely } from "kysely";

// Revoking an intermediate CA (POST /:caId/revoke): each of its certificates is marked revoked, with the CA
// in the KMS that signed it (`issuer_ca_id`), whose CRL and OCSP responder then answer "revoked" for it.
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable("ca_certificates").addColumn("revoked_at", "text").execute();
  await db.schema.alterTable("ca_certificates").addColumn("revocation_reason", "integer").execute();
  await db.schema.alterTable("ca_certificates").addColumn("issuer_ca_id", "text").execute();
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  for (const column of ["issuer_ca_id", "revocation_reason", "revoked_at"]) await db.schema.alterTable("ca_certificates").dropColumn(column).execute();
};
