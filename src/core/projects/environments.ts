import { NotFoundError } from "../errors.js";
import type { ProjectStore } from "../../store/projects.js";

/**
 * An environment by slug, or the 404 every route gives for an unknown one (api.md 3.3). It stands apart from
 * the project service so that the dynamic-secret module, which the project service depends on, can use it.
 */
export const environmentBySlugFrom = (store: Pick<ProjectStore, "getEnvironmentBySlug">) => async (projectId: string, slug: string) => {
  const e = await store.getEnvironmentBySlug(projectId, slug);
  if (!e) throw new NotFoundError(`Environment with slug '${slug}' in project with ID ${projectId} not found`);
  return e;
};
