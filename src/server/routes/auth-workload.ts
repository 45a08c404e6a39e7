import { z } from "zod";
import type { RequestInfo } from "../../core/actor.js";
import type { WorkloadAuthKind } from "../../core/identity/workload-auth.js";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { nonNegInt, seconds, trustedIps } from "../schemas.js";

/** Access-token settings every workload method shares (api.md 2.6). */
export const tokenSettings = {
  accessTokenTrustedIps: trustedIps.optional(),
  accessTokenTTL: seconds.optional(),
  accessTokenMaxTTL: seconds.optional(),
  accessTokenNumUsesLimit: nonNegInt.optional(),
};

export const IdentityParams = z.object({ identityId: z.string().min(1) });

export const requestInfo = (req: { ip: string; headers: Record<string, unknown> }): RequestInfo => ({ ip: req.ip, userAgent: req.headers["user-agent"] as string | undefined });

export interface WorkloadRoutes<In> {
  /** Path segment: `kubernetes-auth` → /api/v1/auth/kubernetes-auth/... */
  slug: string;
  /** Key of the attach/get/patch/delete answers, e.g. `identityKubernetesAuth`. */
  responseKey: string;
  kind: WorkloadAuthKind<any, any, In>;
  settings: z.ZodObject;
  /** The login body; `identityId` names the identity, the rest is the method's proof. */
  login?: z.ZodType<{ identityId: string } & In>;
}

/** Attach, read, update and detach on one identity, and the login: one shape for every method. */
export const registerWorkloadAuthRoutes = <In>(r: Router, s: Services, w: WorkloadRoutes<In>) => {
  const path = `/api/v1/auth/${w.slug}/identities/:identityId`;
  const idOf = (req: { params: unknown }) => parse(IdentityParams, req.params, "params").identityId;
  const patch = w.settings.partial();
  r.authed("POST", path, async (req, _, actor) => ({ [w.responseKey]: await s.workloadAuth.attach(w.kind, actor, idOf(req), parse(w.settings, req.body, "body")) }));
  r.authed("GET", path, async (req, _, actor) => ({ [w.responseKey]: await s.workloadAuth.get(w.kind, actor, idOf(req)) }));
  r.authed("PATCH", path, async (req, _, actor) => ({ [w.responseKey]: await s.workloadAuth.update(w.kind, actor, idOf(req), stripUndefined(parse(patch, req.body, "body"))) }));
  r.authed("DELETE", path, async (req, _, actor) => ({ [w.responseKey]: await s.workloadAuth.detach(w.kind, actor, idOf(req)) }));
  const login = w.login;
  if (login)
    r.open("POST", `/api/v1/auth/${w.slug}/login`, async (req) => {
      const { identityId, ...input } = parse(login, req.body, "body");
      return s.workloadAuth.login(w.kind, identityId, input as unknown as In, requestInfo(req));
    });
};

/** zod defaults do not apply to a PATCH: only what the caller sent changes. */
const stripUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
