import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import { isForeignKeyViolation, isUniqueViolation, type SecretStore } from "../../store/secrets.js";
import type { SecretCodec } from "./secret-codec.js";
import type { ScopeRequest, ScopeResolver } from "./scope.js";
import { isValidSecretName, SECRET_NAME_MESSAGE } from "./value.js";
import type { SecretChangeFeed } from "./change-feed.js";
import { folderNotFound, secretDraftsFactory, type CreateFields, type UpdateFields } from "./secret-drafts.js";

export interface SecretKeyDTO extends ScopeRequest { secretName: string; type: string }
export interface CreateSecretDTO extends SecretKeyDTO, CreateFields {}
export interface UpdateSecretDTO extends SecretKeyDTO, UpdateFields {}

type Deps = {
  scopes: Pick<ScopeResolver, "resolve">;
  store: Pick<SecretStore, "getByKey" | "getById" | "listTags" | "create" | "update" | "delete">;
  codec: Pick<SecretCodec, "seal" | "decrypt" | "openMetadata">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
  changes?: Pick<SecretChangeFeed, "publish">;
};

export const secretWriterFactory = (deps: Deps) => {
  const { store, clock } = deps;
  const drafts = secretDraftsFactory(deps);
  const checkName = (field: string, name: string) => {
    if (!isValidSecretName(name)) throw new BadRequestError(`${field}: ${SECRET_NAME_MESSAGE}`);
  };

  const writeScope = (actor: Actor, dto: SecretKeyDTO) => drafts.writeScope(actor, dto, dto.type);

  const create = async (actor: Actor, dto: CreateSecretDTO) => {
    checkName("secretName", dto.secretName);
    const scope = await writeScope(actor, dto);
    if (await store.getByKey(scope.folder.id, dto.secretName, "shared")) throw new BadRequestError("Secret already exists");
    const tags = await drafts.projectTags(scope.project.id, dto.tagIds);
    const { row, version } = await drafts.draftCreate(scope, dto);
    try {
      await store.create(row, version);
    } catch (e) {
      if (isUniqueViolation(e)) throw new BadRequestError("Secret already exists");
      if (isForeignKeyViolation(e)) throw folderNotFound(scope);
      throw e;
    }
    await drafts.announce(actor, drafts.created(scope, row));
    return drafts.respond(row, scope, tags);
  };

  const update = async (actor: Actor, dto: UpdateSecretDTO) => {
    const scope = await writeScope(actor, dto);
    const row = await store.getByKey(scope.folder.id, dto.secretName, "shared");
    if (!row) throw new NotFoundError(`Secret with name '${dto.secretName}' not found`);
    if (dto.newSecretName !== undefined && dto.newSecretName !== row.key) {
      checkName("newSecretName", dto.newSecretName);
      if (await store.getByKey(scope.folder.id, dto.newSecretName, "shared")) throw new BadRequestError(`Secret with name '${dto.newSecretName}' already exists`);
    }
    const tags = await drafts.projectTags(scope.project.id, dto.tagIds);
    const u = await drafts.draftUpdate(row, dto);
    let ok: boolean;
    try {
      ok = await store.update(row, row.version, u.patch, u.version);
    } catch (e) {
      if (isUniqueViolation(e)) throw new BadRequestError(`Secret with name '${u.rename}' already exists`);
      throw e;
    }
    if (!ok) {
      // Deleted meanwhile (by itself or with its folder) is a 404, as it would have been a moment later.
      if (!(await store.getById(row.id))) throw new NotFoundError(`Secret with name '${dto.secretName}' not found`);
      throw new BadRequestError(`Secret '${row.key}' was changed by another request at the same time; read it again and retry`);
    }
    await drafts.announce(actor, drafts.updated(scope, row, u));
    return drafts.respond(u.next, scope, tags);
  };

  const remove = async (actor: Actor, dto: SecretKeyDTO) => {
    const scope = await writeScope(actor, dto);
    const row = await store.getByKey(scope.folder.id, dto.secretName, "shared");
    if (!row) throw new NotFoundError(`Secret with name '${dto.secretName}' not found`);
    const view = await drafts.respond(row, scope, await drafts.projectTags(scope.project.id, []));
    if (!(await store.delete(row, isoNow(clock)))) throw new NotFoundError(`Secret with name '${dto.secretName}' not found`);
    await drafts.announce(actor, drafts.deleted(scope, row));
    return view;
  };

  return { create, update, remove };
};
export type SecretWriter = ReturnType<typeof secretWriterFactory>;
