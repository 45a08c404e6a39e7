import type { Actor } from "../actor.js";
import { BadRequestError } from "../errors.js";
import type { ProjectAccess, ProjectRole } from "../projects/access.js";
import type { ProjectService } from "../projects/project-service.js";
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
  projects: Pick<ProjectService, "environmentBySlug">;
  folders: Pick<FolderStore, "getByPath">;
};

/**
 * Resolves project → environment → folder for every secrets, folders and imports call. The permission
 * check comes first, so a caller without access learns nothing about environments or paths.
 */
export const scopeFactory = ({ access, projects, folders }: Deps) => {
  const project = (actor: Actor, ref: ProjectRef, role: ProjectRole): Promise<ProjectTable> => {
    if (ref.projectId) return access.requireProject(actor, ref.projectId, role);
    if (ref.projectSlug) return access.requireProjectBySlug(actor, ref.projectSlug, role);
    throw new BadRequestError("Missing project id or environment");
  };

  const resolve = async (actor: Actor, req: ScopeRequest, role: ProjectRole): Promise<Scope> => {
    if (!req.environment) throw new BadRequestError("Missing project id or environment");
    const p = await project(actor, req, role);
    const path = normalizePath(req.path, req.pathField ?? "secretPath");
    const env = await projects.environmentBySlug(p.id, req.environment);
    return { project: p, env, path, folder: await folders.getByPath(env.id, path) };
  };

  return { project, resolve };
};
export type ScopeResolver = ReturnType<typeof scopeFactory>;
