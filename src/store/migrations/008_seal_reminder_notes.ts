import type { Kysely } from "kysely";

export const REMINDER_NOTE_SEALING = "reminder_notes_sealing";

/**
 * Reminder notes (`secrets.reminder_note` and `reminderNote` in `secret_versions.extra`) were stored in the
 * clear up to here; from now on they are sealed with the project's data key like comments. Sealing the
 * existing ones needs the root key, which a migration does not have (migrations get only the database, and
 * the root key is checked against the database after they ran, see server/start.ts). So this migration
 * only records that the conversion is due, in the same transaction as the migration's own bookkeeping;
 * the one-time step core/secrets/seal-reminder-notes.ts does it at start, right after the key check, and
 * removes the mark when every project is done.
 */
export const up = async (db: Kysely<any>): Promise<void> => {
  await db.insertInto("meta").values({ key: REMINDER_NOTE_SEALING, value: "pending" }).execute();
};
