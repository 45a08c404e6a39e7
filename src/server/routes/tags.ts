import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

/** Project tags (api.md 4.7), under /api/v1/projects and the /api/v1/workspace alias. */
const CreateTag = z.object({ slug: z.string().min(1), name: z.string().min(1).optional(), color: z.string().nullable().optional() });
const UpdateTag = z.object({ slug: z.string().min(1).optional(), name: z.string().min(1).optional(), color: z.string().nullable().optional() });
const ProjectParams = z.object({ projectId: z.string().min(1) });
const TagParams = z.object({ projectId: z.string().min(1), tagId: z.string().min(1) });
const SlugParams = z.object({ projectId: z.string().min(1), tagSlug: z.string().min(1) });

export const registerTagRoutes = (r: Router, s: Services) => {
  for (const base of ["/api/v1/projects/:projectId/tags", "/api/v1/workspace/:projectId/tags"]) {
    r.authed("POST", base, async (req, _, actor) =>
      ({ tag: await s.tags.create(actor, parse(ProjectParams, req.params, "params").projectId, parse(CreateTag, req.body, "body")) }));
    // Infisical names the list `workspaceTags`.
    r.authed("GET", base, async (req, _, actor) => ({ workspaceTags: await s.tags.list(actor, parse(ProjectParams, req.params, "params").projectId) }));
    r.authed("GET", `${base}/slug/:tagSlug`, async (req, _, actor) => {
      const p = parse(SlugParams, req.params, "params");
      return { tag: await s.tags.get(actor, p.projectId, { slug: p.tagSlug }) };
    });
    r.authed("GET", `${base}/:tagId`, async (req, _, actor) => {
      const p = parse(TagParams, req.params, "params");
      return { tag: await s.tags.get(actor, p.projectId, { id: p.tagId }) };
    });
    r.authed("PATCH", `${base}/:tagId`, async (req, _, actor) => {
      const p = parse(TagParams, req.params, "params");
      return { tag: await s.tags.update(actor, p.projectId, p.tagId, parse(UpdateTag, req.body, "body")) };
    });
    r.authed("DELETE", `${base}/:tagId`, async (req, _, actor) => {
      const p = parse(TagParams, req.params, "params");
      return { tag: await s.tags.remove(actor, p.projectId, p.tagId) };
    });
  }
};
