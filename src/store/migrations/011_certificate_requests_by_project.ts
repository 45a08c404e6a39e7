import type { Kysely } from "kysely";

// GET /api/v1/cert-manager/certificates/certificate-requests lists a project's requests, newest first. Ids and
// creation times grow together, so the index appends: one page per group commit.
export const up = async (db: Kysely<unknown>): Promise<void> => {
  // IF NOT EXISTS: see 010.
  await db.schema.createIndex("certificate_requests_project_created").ifNotExists().on("certificate_requests").columns(["project_id", "created_at"]).execute();
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.dropIndex("certificate_requests_project_created").execute();
};
