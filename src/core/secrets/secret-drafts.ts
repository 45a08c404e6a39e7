import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { AuditEvent, AuditService } from "../audit/audit-service.js";
import type { SecretTable } from "../../store/schema.js";
import type { SecretStore, SecretVersionRow } from "../../store/secrets.js";
import type { SecretCodec, StoredMetadata } from "./secret-codec.js";
import { secretView, tagView, type TagView } from "./secret-view.js";
import type { Scope, ScopeRequest, ScopeResolver } from "./scope.js";
import { refusePersonal } from "./secret-reader.js";
import { normalizeSecretValue } from "./value.js";
import { toVersionRow } from "./versions.js";
import type { SecretChange, SecretChangeFeed } from "./change-feed.js";

export interface MetadataInput { key: string; value: string; isEncrypted?: boolean }
export interface SecretFields {
  secretComment?: string;
  skipMultilineEncoding?: boolean | null;
  tagIds?: string[];
  secretReminderNote?: string | null;
  secretReminderRepeatDays?: number | null;
  metadata?: Record<string, unknown> | null;
  secretMetadata?: MetadataInput[];
}
export interface CreateFields extends SecretFields { secretName: string; secretValue: string }
export interface UpdateFields extends SecretFields { secretValue?: string; newSecretName?: string }

/** A scope whose folder exists: where every write goes. */
export type WriteScope = Scope & { folder: NonNullable<Scope["folder"]> };
export type ProjectTags = ReadonlyMap<string, TagView>;
export interface Announcement { audit: AuditEvent; change: SecretChange }

/** The fields an update names in its audit event (`changed`), in the order the request gave them. */
const UPDATABLE: ReadonlySet<string> = new Set(["secretValue", "secretComment", "newSecretName", "tagIds", "skipMultilineEncoding", "metadata", "secretMetadata", "secretReminderNote", "secretReminderRepeatDays"]);

export const folderNotFound = (scope: Scope) =>
  new NotFoundError(`Folder with path '${scope.path}' in environment with slug '${scope.env.slug}' not found`);

type Deps = {
  scopes: Pick<ScopeResolver, "resolve">;
  store: Pick<SecretStore, "listTags">;
  codec: Pick<SecretCodec, "seal" | "decrypt" | "openMetadata">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
  changes?: Pick<SecretChangeFeed, "publish">;
};

/**
 * What a single write and a batch both do to one secret: seal its fields into a row (and its version row),
 * answer the secret object, and tell the audit log and the change feed once committed. The single-secret
 * writer (secret-writer.ts) and the batch writer (secret-batch.ts) share these, so a secret written either
 * way is stored, versioned, audited and announced the same.
 */
export const secretDraftsFactory = ({ scopes, store, codec, audit, clock, changes }: Deps) => {
  /** Member role, existing folder, shared secrets: the common start of every write. */
  const writeScope = async (actor: Actor, req: ScopeRequest, type = "shared"): Promise<WriteScope> => {
    refusePersonal(type);
    const scope = await scopes.resolve(actor, req, "member");
    if (!scope.folder) throw folderNotFound(scope);
    return { ...scope, folder: scope.folder };
  };

  /** Every tag id must name a tag of the project; the answer lists the tags for the response. */
  const projectTags = async (projectId: string, ids: Iterable<string> | undefined): Promise<ProjectTags> => {
    const tags = new Map((await store.listTags(projectId)).map((t) => [t.id, tagView(t)]));
    for (const id of ids ?? []) if (!tags.has(id)) throw new NotFoundError(`tagIds: tag ${id} not found in project ${projectId}`);
    return tags;
  };

  const metadataItems = (items: MetadataInput[] | undefined) => (items ?? []).map((m) => ({ key: m.key, value: m.value, isEncrypted: !!m.isEncrypted }));

  /** The new secret's row (version 1) and its first version row, its fields sealed under a fresh id. */
  const draftCreate = async (scope: WriteScope, f: CreateFields): Promise<{ row: SecretTable; version: SecretVersionRow }> => {
    const id = newId();
    const now = isoNow(clock);
    const projectId = scope.project.id;
    const sealed = await codec.seal(projectId, id, {
      value: normalizeSecretValue(f.secretValue), comment: f.secretComment ?? "", reminderNote: f.secretReminderNote ?? null,
      metadata: { metadata: f.metadata ?? null, secretMetadata: metadataItems(f.secretMetadata) },
    });
    const row: SecretTable = {
      id, project_id: projectId, env_id: scope.env.id, folder_id: scope.folder.id, key: f.secretName, type: "shared", version: 1,
      encrypted_value: sealed.encrypted_value!, encrypted_comment: sealed.encrypted_comment!, metadata: sealed.metadata!,
      skip_multiline_encoding: f.skipMultilineEncoding ? 1 : 0, reminder_note: sealed.reminder_note!,
      reminder_repeat_days: f.secretReminderRepeatDays ?? null, tag_ids: JSON.stringify([...new Set(f.tagIds ?? [])]), created_at: now, updated_at: now,
    };
    return { row, version: toVersionRow(row, newId()) };
  };

  /**
   * The change to `row` (re-sealing only the fields given), the row as it will be, its version row, the
   * new name if it is renamed, and the names of the fields that changed (for the audit log).
   */
  const draftUpdate = async (row: SecretTable, f: UpdateFields) => {
    const projectId = row.project_id;
    const rename = f.newSecretName !== undefined && f.newSecretName !== row.key ? f.newSecretName : undefined;
    const tagIds = f.tagIds && [...new Set(f.tagIds)];
    let metadata: StoredMetadata | undefined;
    if (f.metadata !== undefined || f.secretMetadata !== undefined) {
      const old = await codec.openMetadata(projectId, row.id, row.metadata);
      metadata = {
        metadata: f.metadata !== undefined ? f.metadata : old.metadata,
        secretMetadata: f.secretMetadata !== undefined ? metadataItems(f.secretMetadata) : old.secretMetadata,
      };
    }
    const sealed = await codec.seal(projectId, row.id, {
      value: f.secretValue === undefined ? undefined : normalizeSecretValue(f.secretValue), comment: f.secretComment, metadata,
      reminderNote: f.secretReminderNote,
    });
    const patch: Partial<SecretTable> = {
      ...sealed, version: row.version + 1, updated_at: isoNow(clock),
      ...(rename !== undefined && { key: rename }),
      ...(tagIds !== undefined && { tag_ids: JSON.stringify(tagIds) }),
      ...(f.skipMultilineEncoding !== undefined && { skip_multiline_encoding: f.skipMultilineEncoding ? 1 : 0 }),
      ...(f.secretReminderRepeatDays !== undefined && { reminder_repeat_days: f.secretReminderRepeatDays }),
    };
    const next: SecretTable = { ...row, ...patch };
    const changed = Object.keys(f).filter((k) => UPDATABLE.has(k) && f[k as keyof UpdateFields] !== undefined);
    return { patch, next, version: toVersionRow(next, newId()), rename, changed };
  };

  /** The secret object of api.md 4.1 for a row as written. */
  const respond = async (row: SecretTable, scope: Scope, tags: ProjectTags) =>
    secretView(await codec.decrypt(row, { envSlug: scope.env.slug, secretPath: scope.path }), tags, { hidden: false });

  const where = (scope: Scope, key: string) => ({ secretKey: key, environment: scope.env.slug, secretPath: scope.path });

  /**
   * What a committed create, update or delete tells the audit log and the change feed. Single writes record
   * the event after their commit (`announce`); a batch commits the events in its own transaction.
   */
  const created = (scope: Scope, row: SecretTable, extra?: Record<string, unknown>): Announcement => ({
    audit: { action: "create-secret", resourceType: "secret", resourceId: row.id, projectId: scope.project.id, metadata: { ...where(scope, row.key), version: 1, ...extra } },
    change: { projectId: scope.project.id, ...where(scope, row.key), action: "created" },
  });
  const updated = (scope: Scope, old: SecretTable, u: { next: SecretTable; rename?: string; changed: readonly string[] }, extra?: Record<string, unknown>): Announcement => {
    const renamed = u.rename !== undefined && { newSecretKey: u.rename };
    return {
      audit: {
        action: "update-secret", resourceType: "secret", resourceId: old.id, projectId: scope.project.id,
        metadata: { ...where(scope, old.key), ...renamed, version: u.next.version, changed: u.changed, ...extra },
      },
      change: { projectId: scope.project.id, ...where(scope, old.key), action: "updated", ...renamed },
    };
  };
  const deleted = (scope: Scope, row: SecretTable, extra?: Record<string, unknown>): Announcement => ({
    audit: { action: "delete-secret", resourceType: "secret", resourceId: row.id, projectId: scope.project.id, metadata: { ...where(scope, row.key), version: row.version, ...extra } },
    change: { projectId: scope.project.id, ...where(scope, row.key), action: "deleted" },
  });
  /** After the commit of a single write: its audit event, then its change-feed notice. */
  const announce = async (actor: Actor, a: Announcement) => {
    await audit.record(actor, a.audit);
    changes?.publish(a.change);
  };

  return { writeScope, projectTags, draftCreate, draftUpdate, respond, created, updated, deleted, announce };
};
export type SecretDrafts = ReturnType<typeof secretDraftsFactory>;
