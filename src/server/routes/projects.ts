import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { qbool } from "../schemas.js";

const CreateProject = z.object({
  projectName: z.string().trim().min(1), projectDescription: z.string().optional(), slug: z.string().optional(),
  type: z.string().optional(), template: z.string().optional(), shouldCreateDefaultEnvs: z.boolean().optional(),
  hasDeleteProtection: z.boolean().optional(),
});
const UpdateProject = z.object({
  name: z.string().trim().min(1).optional(), description: z.string().optional(), slug: z.string().optional(),
  autoCapitalization: z.boolean().optional(), hasDeleteProtection: z.boolean().optional(),
});
const ProjectParams = z.object({ projectId: z.string().min(1) });
const SlugParams = z.object({ slug: z.string().min(1) });
const ListQuery = z.object({ type: z.string().optional(), includeRoles: qbool.optional() });
const CreateEnv = z.object({ name: z.string().trim().min(1), slug: z.string().min(1), position: z.number().int().min(1).optional() });
const UpdateEnv = z.object({ name: z.string().trim().min(1).optional(), slug: z.string().min(1).optional(), position: z.number().int().min(1).optional() });
const EnvParams = z.object({ projectId: z.string().min(1), envId: z.string().min(1) });
const EnvSlugParams = z.object({ projectId: z.string().min(1), envSlug: z.string().min(1) });
const MemberParams = z.object({ projectId: z.string().min(1), identityId: z.string().min(1) });
const Roles = z.array(z.object({
  role: z.string().min(1), isTemporary: z.boolean().optional(),
  temporaryMode: z.string().optional(), temporaryRange: z.string().optional(), temporaryAccessStartTime: z.string().optional(),
}));
const AddMember = z.object({ role: z.string().optional(), roles: Roles.min(1).optional() });
const UpdateMember = z.object({ roles: Roles.min(1) });

export const registerProjectRoutes = (r: Router, s: Services) => {
  const pid = (req: { params: unknown }) => parse(ProjectParams, req.params, "params").projectId;

  for (const url of ["/api/v1/projects", "/api/v2/workspace"])
    r.authed("POST", url, async (req, _, actor) => ({ project: await s.projects.create(actor, parse(CreateProject, req.body, "body")) }));
  r.authed("GET", "/api/v1/projects", async (req, _, actor) => ({ projects: await s.projects.list(actor, parse(ListQuery, req.query, "querystring").type) }));
  r.authed("GET", "/api/v1/projects/slug/:slug", async (req, _, actor) => s.projects.getBySlug(actor, parse(SlugParams, req.params, "params").slug));
  r.authed("GET", "/api/v1/projects/:projectId", async (req, _, actor) => ({ project: await s.projects.get(actor, pid(req)) }));
  r.authed("GET", "/api/v1/workspace/:projectId", async (req, _, actor) => ({ workspace: await s.projects.get(actor, pid(req)) }));
  // `GET /api/v2/workspace/:slug` answers the bare project, like the slug route.
  r.authed("GET", "/api/v2/workspace/:slug", async (req, _, actor) => s.projects.getBySlug(actor, parse(SlugParams, req.params, "params").slug));
  r.authed("PATCH", "/api/v1/projects/:projectId", async (req, _, actor) => ({ project: await s.projects.update(actor, pid(req), parse(UpdateProject, req.body, "body")) }));
  r.authed("DELETE", "/api/v1/projects/:projectId", async (req, _, actor) => ({ project: await s.projects.remove(actor, pid(req)) }));

  // Environments: the SDK uses the deprecated workspace alias, whose answer names the project `workspace`.
  r.authed("POST", "/api/v1/projects/:projectId/environments", async (req, _, actor) => {
    const environment = await s.projects.createEnvironment(actor, pid(req), parse(CreateEnv, req.body, "body"));
    return { message: "Successfully created new environment", projectId: environment.projectId, environment };
  });
  r.authed("POST", "/api/v1/workspace/:projectId/environments", async (req, _, actor) => {
    const environment = await s.projects.createEnvironment(actor, pid(req), parse(CreateEnv, req.body, "body"));
    return { message: "Successfully created new environment", workspace: environment.projectId, environment };
  });
  r.authed("GET", "/api/v1/projects/:projectId/environments/slug/:envSlug", async (req, _, actor) => {
    const p = parse(EnvSlugParams, req.params, "params");
    return { environment: await s.projects.getEnvironment(actor, p.projectId, { slug: p.envSlug }) };
  });
  r.authed("GET", "/api/v1/projects/:projectId/environments/:envId", async (req, _, actor) => {
    const p = parse(EnvParams, req.params, "params");
    return { environment: await s.projects.getEnvironment(actor, p.projectId, { id: p.envId }) };
  });
  for (const base of ["/api/v1/projects", "/api/v1/workspace"]) {
    r.authed("PATCH", `${base}/:projectId/environments/:envId`, async (req, _, actor) => {
      const p = parse(EnvParams, req.params, "params");
      const environment = await s.projects.updateEnvironment(actor, p.projectId, p.envId, parse(UpdateEnv, req.body, "body"));
      return { message: "Successfully updated environment", projectId: p.projectId, workspace: p.projectId, environment };
    });
    r.authed("DELETE", `${base}/:projectId/environments/:envId`, async (req, _, actor) => {
      const p = parse(EnvParams, req.params, "params");
      const environment = await s.projects.deleteEnvironment(actor, p.projectId, p.envId);
      return { message: "Successfully deleted environment", projectId: p.projectId, workspace: p.projectId, environment };
    });
  }

  // Identity memberships, under the current path and both aliases.
  const memberPaths = [
    "/api/v1/projects/:projectId/memberships/identities/:identityId",
    "/api/v1/projects/:projectId/identity-memberships/:identityId",
    "/api/v2/workspace/:projectId/identity-memberships/:identityId",
  ];
  for (const url of memberPaths) {
    r.authed("POST", url, async (req, _, actor) => {
      const p = parse(MemberParams, req.params, "params");
      return { identityMembership: await s.projects.addMembership(actor, p.projectId, p.identityId, parse(AddMember, req.body, "body")) };
    });
    r.authed("PATCH", url, async (req, _, actor) => {
      const p = parse(MemberParams, req.params, "params");
      return { identityMembership: await s.projects.updateMembership(actor, p.projectId, p.identityId, parse(UpdateMember, req.body, "body")) };
    });
    r.authed("DELETE", url, async (req, _, actor) => {
      const p = parse(MemberParams, req.params, "params");
      return { identityMembership: await s.projects.deleteMembership(actor, p.projectId, p.identityId) };
    });
    r.authed("GET", url, async (req, _, actor) => {
      const p = parse(MemberParams, req.params, "params");
      return { identityMembership: await s.projects.getMembership(actor, p.projectId, p.identityId) };
    });
  }
  for (const url of ["/api/v1/projects/:projectId/memberships/identities", "/api/v2/workspace/:projectId/identity-memberships"])
    r.authed("GET", url, async (req, _, actor) => {
      const identityMemberships = await s.projects.listMemberships(actor, pid(req));
      return { identityMemberships, totalCount: identityMemberships.length };
    });
};
