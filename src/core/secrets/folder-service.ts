import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { isUuid, newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import type { DeleteDynamicSecretsIn } from "../dynamic-secrets/scope-deletion.js";
import type { ProjectAccess } from "../projects/access.js";
import type { FolderStore } from "../../store/folders.js";
import type { FolderTable } from "../../store/schema.js";
import { isForeignKeyViolation, isUniqueViolation } from "../../store/secrets.js";
import { FOLDER_NAME, joinPath, parentPath, pathSegments, relativePath } from "./paths.js";
import type { Scope, ScopeRequest, ScopeResolver } from "./scope.js";

export interface CreateFolderDTO extends ScopeRequest { name: string; description?: string | null }
export interface ListFoldersDTO extends ScopeRequest { recursive: boolean; lastSecretModified?: string }
export interface FolderRefDTO extends ScopeRequest { folderIdOrName: string }
export interface UpdateFolderDTO extends FolderRefDTO { name: string; description?: string | null }

type Deps = {
  scopes: Pick<ScopeResolver, "resolve">;
  access: Pick<ProjectAccess, "requireProject">;
  folders: Pick<FolderStore, "getByPath" | "getLocated" | "listByPaths" | "listChildren" | "listBelow" | "create" | "update" | "delete">;
  audit: Pick<AuditService, "record">;
  /** Deletes a folder only after the leases of the dynamic secrets in its subtree are revoked at their targets. */
  deleteDynamicSecretsIn: DeleteDynamicSecretsIn;
  clock: Clock;
};

/** The folder object of api.md 3.4; `relativePath` (from the listed folder) only in recursive listings. */
export const folderView = (f: FolderTable, base?: string) => ({
  id: f.id, name: f.name, envId: f.env_id, parentId: f.parent_id, version: f.version, isReserved: false,
  description: f.description, lastSecretModified: f.last_secret_modified, createdAt: f.created_at, updatedAt: f.updated_at,
  path: f.path, ...(base !== undefined ? { relativePath: relativePath(f.path, base) } : {}),
});

export const folderServiceFactory = ({ scopes, access, folders, audit, deleteDynamicSecretsIn, clock }: Deps) => {
  const checkName = (name: string) => {
    if (!FOLDER_NAME.test(name)) throw new BadRequestError(`name: "${name}" may only contain letters, digits, '-' and '_'`);
  };
  const record = (actor: Actor, scope: Scope, action: string, f: FolderTable, extra: Record<string, unknown> = {}) =>
    audit.record(actor, { action, resourceType: "folder", resourceId: f.id, projectId: scope.project.id, metadata: { environment: scope.env.slug, path: f.path, ...extra } });

  /**
   * Creates `path/name`. Missing folders on the way are created too, in the same transaction (as
   * Infisical does): `path=/a/b` with only `/a` existing creates `/a/b` and then `/a/b/name`.
   */
  const create = async (actor: Actor, dto: CreateFolderDTO) => {
    checkName(dto.name);
    const scope = await scopes.resolve(actor, { ...dto, pathField: dto.pathField ?? "path" }, "member");
    const target = joinPath(scope.path, dto.name);
    const chain = ["/", ...pathSegments(target).map((_, i, all) => `/${all.slice(0, i + 1).join("/")}`)];
    const existing = new Map((await folders.listByPaths(scope.env.id, chain)).map((f) => [f.path, f]));
    if (existing.has(target)) throw new BadRequestError(`Folder with name '${dto.name}' already exists at path '${scope.path}'`);
    const root = existing.get("/");
    if (!root) throw new NotFoundError(`Root folder of environment '${scope.env.slug}' not found`);
    const now = isoNow(clock);
    const rows: FolderTable[] = [];
    let parent = root;
    for (const p of chain.slice(1)) {
      const found = existing.get(p);
      if (found) {
        parent = found;
        continue;
      }
      const row: FolderTable = {
        id: newId(), env_id: scope.env.id, parent_id: parent.id, name: p.slice(p.lastIndexOf("/") + 1), path: p, version: 1,
        description: p === target ? (dto.description ?? null) : null, last_secret_modified: null, created_at: now, updated_at: now,
      };
      rows.push(row);
      parent = row;
    }
    let created: FolderTable[];
    try {
      created = await folders.create(scope.project.id, rows);
    } catch (e) {
      if (isUniqueViolation(e)) throw new BadRequestError(`Folder with name '${dto.name}' already exists at path '${scope.path}'`);
      // A parent was deleted by another request meanwhile.
      if (isForeignKeyViolation(e)) throw new NotFoundError(`Folder with path '${scope.path}' in environment with slug '${scope.env.slug}' not found`);
      throw e;
    }
    for (const row of created) await record(actor, scope, "create-folder", row);
    return folderView(created[created.length - 1]!);
  };

  /** Direct children of `path`, or every folder below it when recursive; an unknown path lists nothing. */
  const list = async (actor: Actor, dto: ListFoldersDTO) => {
    let since: number | undefined;
    if (dto.lastSecretModified !== undefined) {
      since = Date.parse(dto.lastSecretModified);
      if (Number.isNaN(since)) throw new BadRequestError(`lastSecretModified: "${dto.lastSecretModified}" is not an ISO-8601 date`);
    }
    const scope = await scopes.resolve(actor, { ...dto, pathField: dto.pathField ?? "path" }, "viewer");
    if (!scope.folder) return [];
    let rows = dto.recursive ? await folders.listBelow(scope.env.id, scope.path) : await folders.listChildren(scope.folder.id);
    if (since !== undefined) rows = rows.filter((f) => f.last_secret_modified !== null && Date.parse(f.last_secret_modified) >= since!);
    return rows.map((f) => folderView(f, dto.recursive ? scope.path : undefined));
  };

  const get = async (actor: Actor, id: string) => {
    const f = await folders.getLocated(id);
    if (!f) throw new NotFoundError(`Folder with ID '${id}' not found`);
    try {
      await access.requireProject(actor, f.project_id, "viewer");
    } catch (e) {
      // Another organization's folder is reported exactly like a missing one.
      throw e instanceof NotFoundError ? new NotFoundError(`Folder with ID '${id}' not found`) : e;
    }
    const { project_id: _p, env_slug: environment, ...row } = f;
    return { ...folderView(row), environment };
  };

  /** The folder named by id or by name (the CLI sends names) among the children of the request path. */
  const findChild = async (actor: Actor, dto: FolderRefDTO) => {
    const scope = await scopes.resolve(actor, { ...dto, pathField: dto.pathField ?? "path" }, "member");
    const notFound = () => new NotFoundError(`Folder with ID '${dto.folderIdOrName}' not found at path '${scope.path}' in environment '${scope.env.slug}'`);
    if (!scope.folder) throw notFound();
    const children = await folders.listChildren(scope.folder.id);
    const f = (isUuid(dto.folderIdOrName) && children.find((c) => c.id === dto.folderIdOrName)) || children.find((c) => c.name === dto.folderIdOrName);
    if (!f) throw notFound();
    return { scope, folder: f };
  };

  const update = async (actor: Actor, dto: UpdateFolderDTO) => {
    checkName(dto.name);
    const { scope, folder } = await findChild(actor, dto);
    const path = joinPath(parentPath(folder.path), dto.name);
    if (path !== folder.path && (await folders.getByPath(scope.env.id, path)))
      throw new BadRequestError(`Folder with name '${dto.name}' already exists at path '${scope.path}'`);
    const patch = { name: dto.name, path, description: dto.description !== undefined ? dto.description : folder.description, updated_at: isoNow(clock) };
    try {
      await folders.update(scope.project.id, folder, patch);
    } catch (e) {
      if (isUniqueViolation(e)) throw new BadRequestError(`Folder with name '${dto.name}' already exists at path '${scope.path}'`);
      throw e;
    }
    const updated = { ...folder, ...patch, version: folder.version + 1 };
    await record(actor, scope, "update-folder", updated, { oldPath: folder.path });
    return folderView(updated);
  };

  /**
   * Deletes the folder with everything below it: sub-folders, secrets, versions, imports, and dynamic secrets,
   * whose leases are revoked first (which needs the project role `admin`).
   */
  const remove = async (actor: Actor, dto: FolderRefDTO) => {
    const { scope, folder } = await findChild(actor, dto);
    await deleteDynamicSecretsIn(actor, {
      projectId: scope.project.id, scope: { kind: "folder", envId: folder.env_id, path: folder.path },
      what: `Folder '${folder.path}' in environment '${scope.env.slug}'`, drop: () => folders.delete(scope.project.id, folder),
    });
    await record(actor, scope, "delete-folder", folder);
    return folderView(folder);
  };

  return { create, list, get, update, remove };
};
export type FolderService = ReturnType<typeof folderServiceFactory>;
