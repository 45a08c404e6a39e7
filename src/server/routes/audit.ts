import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { ForbiddenError } from "../../core/errors.js";

const Query = z.object({
  offset: z.string().regex(/^\d+$/).transform(Number).optional(),
  limit: z.string().regex(/^\d+$/).transform(Number).optional(),
  eventType: z.string().optional(),
});

export const registerAuditRoutes = (r: Router, s: Services) => {
  // Project admins read their project's log; organization admins also read the organization-wide log.
  r.authed("GET", "/api/v1/projects/:projectId/audit-logs", async (req, _, actor) => {
    const { projectId } = parse(z.object({ projectId: z.string().min(1) }), req.params, "params");
    await s.access.requireProject(actor, projectId, "admin");
    const q = parse(Query, req.query, "querystring");
    return { auditLogs: await s.audit.list({ projectId, limit: q.limit, offset: q.offset, action: q.eventType }) };
  });
  r.authed("GET", "/api/v1/organization/audit-logs", async (req, _, actor) => {
    if (actor.orgRole !== "admin") throw new ForbiddenError("Reading the organization audit log needs the organization admin role");
    const q = parse(Query, req.query, "querystring");
    return { auditLogs: await s.audit.list({ orgId: actor.orgId, limit: q.limit, offset: q.offset, action: q.eventType }) };
  });
};
