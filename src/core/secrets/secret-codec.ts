import { DecryptionError } from "../../crypto/envelope.js";
import type { ProjectKeys } from "../projects/project-keys.js";
import type { SecretTable } from "../../store/schema.js";

export interface SecretMetadataItem { key: string; value: string; isEncrypted: boolean }

/** A decrypted secret, with where it lives. Never logged, never persisted in this form. */
export interface PlainSecret {
  id: string;
  projectId: string;
  envSlug: string;
  secretPath: string;
  key: string;
  type: string;
  version: number;
  value: string;
  comment: string;
  skipMultilineEncoding: boolean;
  reminderNote: string | null;
  reminderRepeatDays: number | null;
  metadata: Record<string, unknown> | null;
  secretMetadata: SecretMetadataItem[];
  tagIds: string[];
  createdAt: string;
  updatedAt: string;
}

export interface StoredMetadata { metadata: Record<string, unknown> | null; secretMetadata: SecretMetadataItem[] }
const EMPTY_METADATA = "{}";

// Each ciphertext is bound (AES-GCM additional data) to its secret and field. Version rows hold the
// same ciphertexts as the secret row they were copied from, so they share these purposes.
const purpose = (secretId: string, field: "value" | "comment" | "metadata" | "reminder-note") => `secret:${secretId}:${field}`;

/**
 * Decrypting is most of the cost of a large list (an AES-GCM operation per encrypted field), and the same
 * ciphertexts are read again and again. Plaintexts are cached by (purpose, ciphertext): a write produces a
 * new ciphertext (fresh IV), so an entry can never be stale, and the AAD is part of the key, so a
 * ciphertext copied into another row still has to pass authentication there. The project data keys that
 * decrypt everything already live in this process's memory, so the cache adds no new exposure.
 */
const CACHE_LIMIT = 100_000;

type Deps = { keys: Pick<ProjectKeys, "encrypt" | "decryptText"> };

export const secretCodecFactory = ({ keys }: Deps) => {
  const cache = new Map<string, string>();

  const open = async (projectId: string, sealed: string, aad: string): Promise<string> => {
    const k = `${aad}\0${sealed}`;
    const hit = cache.get(k);
    if (hit !== undefined) return hit;
    const plain = await keys.decryptText(projectId, sealed, aad);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(k, plain);
    return plain;
  };

  /**
   * The encrypted columns for the fields given (an update re-seals only what changed). Empty metadata is
   * stored as `{}` and an absent reminder note as NULL: there is nothing to hide, and the API tells a
   * missing note (null) from an empty one.
   */
  const seal = async (projectId: string, secretId: string, f: { value?: string; comment?: string; metadata?: StoredMetadata; reminderNote?: string | null }) => {
    const out: { encrypted_value?: string; encrypted_comment?: string; metadata?: string; reminder_note?: string | null } = {};
    if (f.value !== undefined) out.encrypted_value = await keys.encrypt(projectId, f.value, purpose(secretId, "value"));
    if (f.comment !== undefined) out.encrypted_comment = await keys.encrypt(projectId, f.comment, purpose(secretId, "comment"));
    if (f.reminderNote !== undefined) {
      out.reminder_note = f.reminderNote === null ? null : await keys.encrypt(projectId, f.reminderNote, purpose(secretId, "reminder-note"));
    }
    if (f.metadata !== undefined) {
      const empty = f.metadata.metadata === null && f.metadata.secretMetadata.length === 0;
      out.metadata = empty ? EMPTY_METADATA : await keys.encrypt(projectId, JSON.stringify(f.metadata), purpose(secretId, "metadata"));
    }
    return out;
  };

  /**
   * Whether a stored reminder note is already sealed for this secret. Notes were stored in the clear before
   * (see seal-reminder-notes.ts); a plaintext note may even look like a ciphertext (`v1.…`), so only
   * authentication under this secret's purpose tells them apart. A data key that cannot be unwrapped also
   * answers false here, but sealing the note then fails on the same key, so nothing is written.
   */
  const isSealedReminderNote = async (projectId: string, secretId: string, stored: string): Promise<boolean> =>
    keys.decryptText(projectId, stored, purpose(secretId, "reminder-note")).then(() => true, (e: unknown) => {
      if (e instanceof DecryptionError) return false;
      throw e;
    });

  const openMetadata = async (projectId: string, secretId: string, stored: string): Promise<StoredMetadata> =>
    stored === EMPTY_METADATA ? { metadata: null, secretMetadata: [] } : JSON.parse(await open(projectId, stored, purpose(secretId, "metadata")));

  /** Decrypts a secret row (or a version row's fields laid over it) into a PlainSecret. */
  const decrypt = async (row: SecretTable, where: { envSlug: string; secretPath: string }): Promise<PlainSecret> => {
    const [value, comment, meta, reminderNote] = await Promise.all([
      open(row.project_id, row.encrypted_value, purpose(row.id, "value")),
      open(row.project_id, row.encrypted_comment, purpose(row.id, "comment")),
      openMetadata(row.project_id, row.id, row.metadata),
      row.reminder_note === null ? null : open(row.project_id, row.reminder_note, purpose(row.id, "reminder-note")),
    ]);
    return {
      id: row.id, projectId: row.project_id, envSlug: where.envSlug, secretPath: where.secretPath, key: row.key, type: row.type,
      version: row.version, value, comment, skipMultilineEncoding: !!row.skip_multiline_encoding,
      reminderNote, reminderRepeatDays: row.reminder_repeat_days,
      metadata: meta.metadata, secretMetadata: meta.secretMetadata, tagIds: JSON.parse(row.tag_ids) as string[],
      createdAt: row.created_at, updatedAt: row.updated_at,
    };
  };

  return { seal, decrypt, openMetadata, isSealedReminderNote };
};
export type SecretCodec = ReturnType<typeof secretCodecFactory>;
