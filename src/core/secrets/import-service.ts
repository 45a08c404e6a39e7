import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import type { ProjectService } from "../projects/project-service.js";
import type { FolderStore } from "../../store/folders.js";
import type { ProjectStore } from "../../store/projects.js";
import type { EnvironmentTable, SecretImportTable } from "../../store/schema.js";
import { isForeignKeyViolation } from "../../store/secrets.js";
import { normalizePath } from "./paths.js";
import type { ScopeRequest, ScopeResolver } from "./scope.js";

export interface CreateImportDTO extends ScopeRequest {
  importEnvironment: string;
  importPath?: string;
  isReplication?: boolean;
}
export interface DeleteImportDTO extends ScopeRequest { importId: string }

type Deps = {
  scopes: Pick<ScopeResolver, "resolve">;
  projects: Pick<ProjectService, "environmentBySlug">;
  environments: Pick<ProjectStore, "getEnvironment">;
  folders: Pick<FolderStore, "listImports" | "createImport" | "getImport" | "deleteImport">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
};

const importView = (i: SecretImportTable, env: Pick<EnvironmentTable, "id" | "name" | "slug">) => ({
  id: i.id, folderId: i.folder_id, position: i.position, importPath: i.import_path, isReplication: !!i.is_replication,
  importEnv: { id: env.id, name: env.name, slug: env.slug }, createdAt: i.created_at, updatedAt: i.updated_at,
});

/**
 * Secret imports (api.md 4.6): a folder shows the secrets of another folder of the same project, in any
 * environment. Replication (`isReplication`) is recorded but served like a plain import: secrets are read
 * through, never copied.
 */
export const importServiceFactory = ({ scopes, projects, environments, folders, audit, clock }: Deps) => {
  const create = async (actor: Actor, dto: CreateImportDTO) => {
    const scope = await scopes.resolve(actor, { ...dto, pathField: dto.pathField ?? "path" }, "member");
    if (!scope.folder) throw new NotFoundError(`Folder with path '${scope.path}' in environment with slug '${scope.env.slug}' not found`);
    const importPath = normalizePath(dto.importPath, "import.path");
    const importEnv = await projects.environmentBySlug(scope.project.id, dto.importEnvironment);
    if (importEnv.id === scope.env.id && importPath === scope.path) throw new BadRequestError("import: a folder cannot import itself");
    const now = isoNow(clock);
    const created = await folders.createImport(scope.project.id, {
      id: newId(), folder_id: scope.folder.id, import_env_id: importEnv.id, import_path: importPath,
      is_replication: dto.isReplication ? 1 : 0, created_at: now, updated_at: now,
    }).catch((e: unknown) => {
      // The folder was deleted by another request meanwhile.
      if (isForeignKeyViolation(e)) throw new NotFoundError(`Folder with path '${scope.path}' in environment with slug '${scope.env.slug}' not found`);
      throw e;
    });
    if (!created) throw new BadRequestError(`Secret import of '${importPath}' from environment '${importEnv.slug}' already exists`);
    await audit.record(actor, {
      action: "create-secret-import", resourceType: "secret-import", resourceId: created.id, projectId: scope.project.id,
      metadata: { environment: scope.env.slug, path: scope.path, importEnvironment: importEnv.slug, importPath },
    });
    return importView(created, importEnv);
  };

  /** The imports of a folder in position order; an unknown folder has none. */
  const list = async (actor: Actor, dto: ScopeRequest) => {
    const scope = await scopes.resolve(actor, { ...dto, pathField: dto.pathField ?? "path" }, "viewer");
    if (!scope.folder) return [];
    const out = [];
    for (const i of await folders.listImports(scope.folder.id)) {
      const env = await environments.getEnvironment(scope.project.id, i.import_env_id);
      if (env) out.push(importView(i, env));
    }
    return out;
  };

  const remove = async (actor: Actor, dto: DeleteImportDTO) => {
    const scope = await scopes.resolve(actor, { ...dto, pathField: dto.pathField ?? "path" }, "member");
    const i = await folders.getImport(dto.importId);
    if (!i || !scope.folder || i.folder_id !== scope.folder.id)
      throw new NotFoundError(`Secret import with ID '${dto.importId}' not found at path '${scope.path}' in environment '${scope.env.slug}'`);
    const env = await environments.getEnvironment(scope.project.id, i.import_env_id);
    await folders.deleteImport(scope.project.id, i.id);
    await audit.record(actor, {
      action: "delete-secret-import", resourceType: "secret-import", resourceId: i.id, projectId: scope.project.id,
      metadata: { environment: scope.env.slug, path: scope.path, importPath: i.import_path },
    });
    return importView(i, env ?? { id: i.import_env_id, name: "", slug: "" });
  };

  return { create, list, remove };
};
export type ImportService = ReturnType<typeof importServiceFactory>;
