import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import type { SecretTable } from "../../store/schema.js";
import { isForeignKeyViolation, isUniqueViolation, type SecretStore } from "../../store/secrets.js";
import type { SecretCodec, StoredMetadata } from "./secret-codec.js";
import { secretView, tagView } from "./secret-view.js";
import { refusePersonal } from "./secret-reader.js";
import type { Scope, ScopeRequest, ScopeResolver } from "./scope.js";
import { isValidSecretName, normalizeSecretValue, SECRET_NAME_MESSAGE } from "./value.js";
import { toVersionRow } from "./versions.js";
import type { SecretChangeFeed } from "./change-feed.js";

export interface MetadataInput { key: string; value: string; isEncrypted?: boolean }
interface SecretFields {
  secretComment?: string;
  skipMultilineEncoding?: boolean | null;
  tagIds?: string[];
  secretReminderNote?: string | null;
  secretReminderRepeatDays?: number | null;
  metadata?: Record<string, unknown> | null;
  secretMetadata?: MetadataInput[];
}
export interface SecretKeyDTO extends ScopeRequest { secretName: string; type: string }
export interface CreateSecretDTO extends SecretKeyDTO, SecretFields { secretValue: string }
export interface UpdateSecretDTO extends SecretKeyDTO, SecretFields { secretValue?: string; newSecretName?: string }

type Deps = {
  scopes: Pick<ScopeResolver, "resolve">;
  store: Pick<SecretStore, "getByKey" | "getById" | "listTags" | "create" | "update" | "delete">;
  codec: Pick<SecretCodec, "seal" | "decrypt" | "openMetadata">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
  changes?: Pick<SecretChangeFeed, "publish">;
};

export const secretWriterFactory = ({ scopes, store, codec, audit, clock, changes }: Deps) => {
  const checkName = (field: string, name: string) => {
    if (!isValidSecretName(name)) throw new BadRequestError(`${field}: ${SECRET_NAME_MESSAGE}`);
  };

  const folderNotFound = (scope: Scope) => new NotFoundError(`Folder with path '${scope.path}' in environment with slug '${scope.env.slug}' not found`);

  /** Member role, existing folder: the common start of every write. */
  const writeScope = async (actor: Actor, dto: SecretKeyDTO): Promise<Scope & { folder: NonNullable<Scope["folder"]> }> => {
    refusePersonal(dto.type);
    const scope = await scopes.resolve(actor, dto, "member");
    if (!scope.folder) throw folderNotFound(scope);
    return { ...scope, folder: scope.folder };
  };

  /** Every tag id must name a tag of the project; the answer lists the tags for the response. */
  const projectTags = async (projectId: string, ids: string[] | undefined) => {
    const tags = new Map((await store.listTags(projectId)).map((t) => [t.id, tagView(t)]));
    for (const id of ids ?? []) if (!tags.has(id)) throw new NotFoundError(`tagIds: tag ${id} not found in project ${projectId}`);
    return tags;
  };

  const metadataItems = (items: MetadataInput[] | undefined) => (items ?? []).map((m) => ({ key: m.key, value: m.value, isEncrypted: !!m.isEncrypted }));

  const respond = async (row: SecretTable, scope: Scope, tags: Awaited<ReturnType<typeof projectTags>>) =>
    secretView(await codec.decrypt(row, { envSlug: scope.env.slug, secretPath: scope.path }), tags, { hidden: false });

  const where = (scope: Scope, key: string) => ({ secretKey: key, environment: scope.env.slug, secretPath: scope.path });

  const create = async (actor: Actor, dto: CreateSecretDTO) => {
    checkName("secretName", dto.secretName);
    const scope = await writeScope(actor, dto);
    const projectId = scope.project.id;
    if (await store.getByKey(scope.folder.id, dto.secretName, "shared")) throw new BadRequestError("Secret already exists");
    const tagIds = [...new Set(dto.tagIds ?? [])];
    const tags = await projectTags(projectId, tagIds);
    const id = newId();
    const now = isoNow(clock);
    const sealed = await codec.seal(projectId, id, {
      value: normalizeSecretValue(dto.secretValue), comment: dto.secretComment ?? "", reminderNote: dto.secretReminderNote ?? null,
      metadata: { metadata: dto.metadata ?? null, secretMetadata: metadataItems(dto.secretMetadata) },
    });
    const row: SecretTable = {
      id, project_id: projectId, env_id: scope.env.id, folder_id: scope.folder.id, key: dto.secretName, type: "shared", version: 1,
      encrypted_value: sealed.encrypted_value!, encrypted_comment: sealed.encrypted_comment!, metadata: sealed.metadata!,
      skip_multiline_encoding: dto.skipMultilineEncoding ? 1 : 0, reminder_note: sealed.reminder_note!,
      reminder_repeat_days: dto.secretReminderRepeatDays ?? null, tag_ids: JSON.stringify(tagIds), created_at: now, updated_at: now,
    };
    try {
      await store.create(row, toVersionRow(row, newId()));
    } catch (e) {
      if (isUniqueViolation(e)) throw new BadRequestError("Secret already exists");
      if (isForeignKeyViolation(e)) throw folderNotFound(scope);
      throw e;
    }
    await audit.record(actor, { action: "create-secret", resourceType: "secret", resourceId: id, projectId, metadata: { ...where(scope, row.key), version: 1 } });
    changes?.publish({ projectId, ...where(scope, row.key), action: "created" });
    return respond(row, scope, tags);
  };

  const update = async (actor: Actor, dto: UpdateSecretDTO) => {
    const scope = await writeScope(actor, dto);
    const projectId = scope.project.id;
    const row = await store.getByKey(scope.folder.id, dto.secretName, "shared");
    if (!row) throw new NotFoundError(`Secret with name '${dto.secretName}' not found`);
    const rename = dto.newSecretName !== undefined && dto.newSecretName !== row.key ? dto.newSecretName : undefined;
    if (rename !== undefined) {
      checkName("newSecretName", rename);
      if (await store.getByKey(scope.folder.id, rename, "shared")) throw new BadRequestError(`Secret with name '${rename}' already exists`);
    }
    const tagIds = dto.tagIds && [...new Set(dto.tagIds)];
    const tags = await projectTags(projectId, tagIds);
    let metadata: StoredMetadata | undefined;
    if (dto.metadata !== undefined || dto.secretMetadata !== undefined) {
      const old = await codec.openMetadata(projectId, row.id, row.metadata);
      metadata = {
        metadata: dto.metadata !== undefined ? dto.metadata : old.metadata,
        secretMetadata: dto.secretMetadata !== undefined ? metadataItems(dto.secretMetadata) : old.secretMetadata,
      };
    }
    const sealed = await codec.seal(projectId, row.id, {
      value: dto.secretValue === undefined ? undefined : normalizeSecretValue(dto.secretValue), comment: dto.secretComment, metadata,
      reminderNote: dto.secretReminderNote,
    });
    const patch: Partial<SecretTable> = {
      ...sealed, version: row.version + 1, updated_at: isoNow(clock),
      ...(rename !== undefined && { key: rename }),
      ...(tagIds !== undefined && { tag_ids: JSON.stringify(tagIds) }),
      ...(dto.skipMultilineEncoding !== undefined && { skip_multiline_encoding: dto.skipMultilineEncoding ? 1 : 0 }),
      ...(dto.secretReminderRepeatDays !== undefined && { reminder_repeat_days: dto.secretReminderRepeatDays }),
    };
    const next: SecretTable = { ...row, ...patch };
    let ok: boolean;
    try {
      ok = await store.update(row, row.version, patch, toVersionRow(next, newId()));
    } catch (e) {
      if (isUniqueViolation(e)) throw new BadRequestError(`Secret with name '${rename}' already exists`);
      throw e;
    }
    if (!ok) {
      // Deleted meanwhile (by itself or with its folder) is a 404, as it would have been a moment later.
      if (!(await store.getById(row.id))) throw new NotFoundError(`Secret with name '${dto.secretName}' not found`);
      throw new BadRequestError(`Secret '${row.key}' was changed by another request at the same time; read it again and retry`);
    }
    const changed = Object.keys(dto).filter((k) => ["secretValue", "secretComment", "newSecretName", "tagIds", "skipMultilineEncoding", "metadata", "secretMetadata", "secretReminderNote", "secretReminderRepeatDays"].includes(k) && dto[k as keyof UpdateSecretDTO] !== undefined);
    await audit.record(actor, {
      action: "update-secret", resourceType: "secret", resourceId: row.id, projectId,
      metadata: { ...where(scope, row.key), ...(rename !== undefined && { newSecretKey: rename }), version: next.version, changed },
    });
    changes?.publish({ projectId, ...where(scope, row.key), action: "updated", ...(rename !== undefined && { newSecretKey: rename }) });
    return respond(next, scope, tags);
  };

  const remove = async (actor: Actor, dto: SecretKeyDTO) => {
    const scope = await writeScope(actor, dto);
    const projectId = scope.project.id;
    const row = await store.getByKey(scope.folder.id, dto.secretName, "shared");
    if (!row) throw new NotFoundError(`Secret with name '${dto.secretName}' not found`);
    const view = await respond(row, scope, await projectTags(projectId, []));
    if (!(await store.delete(row, isoNow(clock)))) throw new NotFoundError(`Secret with name '${dto.secretName}' not found`);
    await audit.record(actor, { action: "delete-secret", resourceType: "secret", resourceId: row.id, projectId, metadata: { ...where(scope, row.key), version: row.version } });
    changes?.publish({ projectId, ...where(scope, row.key), action: "deleted" });
    return view;
  };

  return { create, update, remove };
};
export type SecretWriter = ReturnType<typeof secretWriterFactory>;
