import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { ProjectSelector, projectRef } from "./secrets-schemas.js";

/** Secret imports (api.md 4.6): v2 names the project `projectId`, the v1 alias `workspaceId`; both accept either. */
const Where = { ...ProjectSelector, environment: z.string().min(1), path: z.string().optional() };
const CreateBody = z.object({
  ...Where,
  import: z.object({ environment: z.string().min(1), path: z.string().optional() }),
  isReplication: z.boolean().optional(),
});
const ListQuery = z.object(Where);
const DeleteBody = z.object(Where);
const IdParams = z.object({ secretImportId: z.string().min(1) });

const where = (w: z.infer<typeof ListQuery>) => ({ ...projectRef(w), environment: w.environment, path: w.path });

export const registerSecretImportRoutes = (r: Router, s: Services) => {
  for (const v of ["v1", "v2"]) {
    const base = `/api/${v}/secret-imports`;
    r.authed("POST", base, async (req, _, actor) => {
      const b = parse(CreateBody, req.body, "body");
      const secretImport = await s.secretImports.create(actor, {
        ...where(b), importEnvironment: b.import.environment, importPath: b.import.path, isReplication: b.isReplication,
      });
      return { message: "Successfully created secret import", secretImport };
    });
    r.authed("GET", base, async (req, _, actor) =>
      ({ secretImports: await s.secretImports.list(actor, where(parse(ListQuery, req.query, "querystring"))) }));
    r.authed("DELETE", `${base}/:secretImportId`, async (req, _, actor) => {
      const { secretImportId } = parse(IdParams, req.params, "params");
      const secretImport = await s.secretImports.remove(actor, { ...where(parse(DeleteBody, req.body, "body")), importId: secretImportId });
      return { message: "Successfully deleted secret import", secretImport };
    });
  }
};
