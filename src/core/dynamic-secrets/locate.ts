import type { Actor } from "../actor.js";
import { ForbiddenError, NotFoundError } from "../errors.js";
import type { ProjectAccess, ProjectRole } from "../projects/access.js";
import type { ProjectService } from "../projects/project-service.js";
import { normalizePath } from "../secrets/paths.js";
import type { DynamicSecretStore } from "../../store/dynamic-secrets.js";
import type { FolderStore } from "../../store/folders.js";

/** Where a route points: project and environment by slug, folder by path (api.md 5). */
export interface FolderRef { projectSlug: string; environmentSlug: string; path?: string }

/** `""`, `/` and absent all mean the root (the Go SDK always sends `"path": ""`), as on the secrets routes. */
export const normalizeFolderPath = (raw: string | undefined): string => normalizePath(raw, "path");

type Deps = {
  access: Pick<ProjectAccess, "requireProject" | "requireProjectBySlug">;
  projects: Pick<ProjectService, "environmentBySlug">;
  store: Pick<DynamicSecretStore, "getByName">;
  folders: Pick<FolderStore, "getByPath">;
};

export const locatorFactory = ({ access, projects, store, folders }: Deps) => {
  const folder = async (actor: Actor, ref: FolderRef, min: ProjectRole) => {
    const project = await access.requireProjectBySlug(actor, ref.projectSlug, min);
    const env = await projects.environmentBySlug(project.id, ref.environmentSlug);
    const path = normalizeFolderPath(ref.path);
    const f = await folders.getByPath(env.id, path);
    if (!f) throw new NotFoundError(`Folder with path '${path}' in environment '${env.slug}' of project '${project.slug}' not found`);
    return { project, env, folder: f, path };
  };

  const dynamicSecret = async (actor: Actor, ref: FolderRef, name: string, min: ProjectRole) => {
    const at = await folder(actor, ref, min);
    const row = await store.getByName(at.folder.id, name.toLowerCase());
    if (!row) throw new NotFoundError(`Dynamic secret with name '${name.toLowerCase()}' in folder '${at.path}' of environment '${at.env.slug}' not found`);
    return { ...at, row };
  };

  /** Whether the actor may see secret inputs; decided by the one access check, not re-derived here. */
  const isProjectAdmin = async (actor: Actor, projectId: string) => {
    try {
      await access.requireProject(actor, projectId, "admin");
      return true;
    } catch (e) {
      if (e instanceof ForbiddenError) return false;
      throw e;
    }
  };

  return { folder, dynamicSecret, isProjectAdmin };
};
export type Locator = ReturnType<typeof locatorFactory>;
