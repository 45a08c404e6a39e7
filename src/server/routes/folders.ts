import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { FOLDER_NAME } from "../../core/secrets/paths.js";
import { ProjectSelector, projectRef } from "./secrets-schemas.js";

/**
 * Folders (api.md 3.4) under /api/v1 and /api/v2. Each route takes the project as `workspaceId` (v1, SDK,
 * CLI) or `projectId` (v2), and the parent path as `path` or the CLI's legacy `directory`.
 */
const name = z.string().trim().min(1).regex(FOLDER_NAME, { message: "folder names may only contain letters, digits, '-' and '_'" });
const Where = { ...ProjectSelector, environment: z.string().min(1), path: z.string().optional(), directory: z.string().optional() };
const CreateBody = z.object({ ...Where, name, description: z.string().nullable().optional() });
const UpdateBody = z.object({ ...Where, name, description: z.string().nullable().optional() });
const DeleteBody = z.object(Where);
const ListQuery = z.object({
  ...Where,
  // Looser than other booleans, as in Infisical: any non-empty value but "false"/"0" means true.
  recursive: z.string().optional().transform((v) => !!v && !/^(false|0)$/i.test(v)),
  lastSecretModified: z.string().optional(),
});
const IdParams = z.object({ id: z.string().min(1) });
const RefParams = z.object({ folderIdOrName: z.string().min(1) });

/** `path` wins over `directory`; the field actually used is the one named in a path error. */
const where = (w: { workspaceId?: string; projectId?: string; projectSlug?: string; workspaceSlug?: string; environment: string; path?: string; directory?: string }) => ({
  ...projectRef(w), environment: w.environment,
  path: w.path ?? w.directory, pathField: w.path === undefined && w.directory !== undefined ? "directory" : "path",
});

export const registerFolderRoutes = (r: Router, s: Services) => {
  for (const v of ["v1", "v2"]) {
    const base = `/api/${v}/folders`;
    r.authed("POST", base, async (req, _, actor) => {
      const b = parse(CreateBody, req.body, "body");
      return { folder: await s.folders.create(actor, { ...where(b), name: b.name, description: b.description }) };
    });
    r.authed("GET", base, async (req, _, actor) => {
      const q = parse(ListQuery, req.query, "querystring");
      return { folders: await s.folders.list(actor, { ...where(q), recursive: q.recursive, lastSecretModified: q.lastSecretModified }) };
    });
    r.authed("GET", `${base}/:id`, async (req, _, actor) => ({ folder: await s.folders.get(actor, parse(IdParams, req.params, "params").id) }));
    r.authed("PATCH", `${base}/:folderIdOrName`, async (req, _, actor) => {
      const b = parse(UpdateBody, req.body, "body");
      const { folderIdOrName } = parse(RefParams, req.params, "params");
      return { folder: await s.folders.update(actor, { ...where(b), folderIdOrName, name: b.name, description: b.description }) };
    });
    r.authed("DELETE", `${base}/:folderIdOrName`, async (req, _, actor) => {
      const b = parse(DeleteBody, req.body, "body");
      return { folder: await s.folders.remove(actor, { ...where(b), folderIdOrName: parse(RefParams, req.params, "params").folderIdOrName }) };
    });
  }
};
