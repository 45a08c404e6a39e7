import type { TagTable } from "../../store/schema.js";
import type { PlainSecret } from "./secret-codec.js";
import { HIDDEN_SECRET_VALUE } from "./value.js";

export interface TagView { id: string; slug: string; name: string; color: string | null }
export const tagView = (t: TagTable): TagView => ({ id: t.id, slug: t.slug, name: t.name, color: t.color });

export interface ViewOptions {
  /** `viewSecretValue=false`: the value is replaced by Infisical's mask. */
  hidden: boolean;
  /** Import entries carry no timestamps (api.md 4.2). */
  timestamps?: boolean;
  /** The value to show instead of the stored one (after reference expansion). */
  value?: string;
}

/**
 * The secret object of api.md 4.1, fields in a fixed order (the ETag hashes the bytes). `_id` and
 * `workspace` are read by the CLI; tags whose row was deleted are dropped.
 */
export const secretView = (s: PlainSecret, tags: ReadonlyMap<string, TagView>, o: ViewOptions) => ({
  id: s.id,
  _id: s.id,
  workspace: s.projectId,
  environment: s.envSlug,
  version: s.version,
  type: s.type,
  secretKey: s.key,
  secretValue: o.hidden ? HIDDEN_SECRET_VALUE : (o.value ?? s.value),
  secretValueHidden: o.hidden,
  secretComment: s.comment,
  secretPath: s.secretPath,
  secretReminderNote: s.reminderNote,
  secretReminderRepeatDays: s.reminderRepeatDays,
  skipMultilineEncoding: s.skipMultilineEncoding,
  metadata: s.metadata,
  secretMetadata: s.secretMetadata,
  tags: s.tagIds.flatMap((id) => tags.get(id) ?? []),
  isRotatedSecret: false,
  rotationId: null,
  ...(o.timestamps === false ? {} : { createdAt: s.createdAt, updatedAt: s.updatedAt }),
});
export type SecretView = ReturnType<typeof secretView>;
