import type { SecretTable } from "../../store/schema.js";
import type { SecretVersionRow } from "../../store/secrets.js";

/** The fields a version row keeps beside its value and comment ciphertexts (column `extra`, migration 003). */
interface VersionExtra {
  skipMultilineEncoding?: number;
  tagIds?: string[];
  /** The sealed note (or null), as in `secrets.reminder_note`; plaintext before migration 008. */
  reminderNote?: string | null;
  reminderRepeatDays?: number | null;
  /** The sealed metadata blob (or `{}`), as in `secrets.metadata`. */
  metadata?: string;
}

/** The version row recording `row` as it is now. Ciphertexts are copied as they are: same secret, same AAD. */
export const toVersionRow = (row: SecretTable, id: string): SecretVersionRow => ({
  id, secret_id: row.id, version: row.version, key: row.key, encrypted_value: row.encrypted_value,
  encrypted_comment: row.encrypted_comment, created_at: row.updated_at,
  extra: JSON.stringify({
    skipMultilineEncoding: row.skip_multiline_encoding, tagIds: JSON.parse(row.tag_ids), reminderNote: row.reminder_note,
    reminderRepeatDays: row.reminder_repeat_days, metadata: row.metadata,
  } satisfies VersionExtra),
});

/** The secret row as it was at version `v`, for decrypting and showing a historical version. */
export const fromVersionRow = (current: SecretTable, v: SecretVersionRow): SecretTable => {
  const extra = JSON.parse(v.extra) as VersionExtra;
  return {
    ...current, key: v.key, version: v.version, encrypted_value: v.encrypted_value, encrypted_comment: v.encrypted_comment,
    skip_multiline_encoding: extra.skipMultilineEncoding ? 1 : 0, tag_ids: JSON.stringify(extra.tagIds ?? []),
    reminder_note: extra.reminderNote ?? null, reminder_repeat_days: extra.reminderRepeatDays ?? null,
    metadata: extra.metadata ?? "{}", updated_at: v.created_at,
  };
};
