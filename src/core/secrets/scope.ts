import type { Actor } from "../actor.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import type { ProjectAccess, ProjectRole } from "../projects/access.js";
import type { FolderStore } from "../../store/folders.js";
import type { EnvironmentTable, FolderTable, ProjectTable } from "../../store/schema.js";
import { normalizePath } from "./paths.js";

/** How a request names its project: by id (`workspaceId`, `projectId`) or by slug (`workspaceSlug`, `projectSlug`). */
export interface ProjectRef { projectId?: string; projectSlug?: string }

export interface ScopeRequest extends ProjectRef {
  environment?: string;
  /** The folder path as sent; normalised here. */
  path?: string;
  /** Request field the path came from, named in errors (`secretPath`, `path`, `directory`). */
  pathField?: string;
}

export interface Scope { project: ProjectTable; env: EnvironmentTable; path: string; folder: FolderTable | undefined }

type Deps = {
  access: Pick<ProjectAccess, "requireProject" | "requireProjectBySlug">;
  folders: Pick<FolderStore, "locate">;
};

/**
 * Resolves project → environment → folder for every secrets, folders and imports call. Nothing is revealed
 * before the permission check passes: when the project id is known, the environment and folder are looked
 * up alongside the check (one round trip saved on every request), but a refused check is what the caller
 * hears, even if the environment does not exist either.
 */
export const scopeFactory = ({ access, folders }: Deps) => {
  const project = (actor: Actor, ref: ProjectRef, role: ProjectRole): Promise<ProjectTable> => {
    if (ref.projectId) return access.requireProject(actor, ref.projectId, role);
    if (ref.projectSlug) return access.requireProjectBySlug(actor, ref.projectSlug, role);
    throw new BadRequestError("Missing project id or environment");
  };

  const resolve = async (actor: Actor, req: ScopeRequest, role: ProjectRole): Promise<Scope> => {
    if (!req.environment) throw new BadRequestError("Missing project id or environment");
    const environment = req.environment;
    const path = normalizePath(req.path, req.pathField ?? "secretPath");
    const early = req.projectId ? folders.locate(req.projectId, environment, path) : undefined;
    early?.catch(() => undefined);
    const p = await project(actor, req, role);
    const found = await (early ?? folders.locate(p.id, environment, path));
    if (!found) throw new NotFoundError(`Environment with slug '${environment}' in project with ID ${p.id} not found`);
    return { project: p, env: found.env, path, folder: found.folder };
  };

  return { project, resolve };
};
export type ScopeResolver = ReturnType<typeof scopeFactory>;
