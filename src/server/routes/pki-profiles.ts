import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

const Profile = {
  certificatePolicyId: z.string().uuid().optional(),
  certificateTemplateId: z.string().uuid().optional(),
  caId: z.string().uuid().nullable().optional(),
  description: z.string().max(1000).optional(),
  enrollmentType: z.string().optional(),
  issuerType: z.string().optional(),
  apiConfig: z.object({ autoRenew: z.boolean().optional(), renewBeforeDays: z.number().int().optional() }).nullable().optional(),
  estConfig: z.record(z.string(), z.unknown()).nullable().optional(),
  acmeConfig: z.record(z.string(), z.unknown()).nullable().optional(),
  externalConfigs: z.unknown().optional(),
  defaults: z.record(z.string(), z.unknown()).nullable().optional(),
};
const CreateProfile = z.object({ projectId: z.string().min(1), slug: z.string().min(1).max(255), ...Profile });
const UpdateProfile = z.object({ slug: z.string().min(1).max(255).optional(), ...Profile });
const Params = z.object({ id: z.string().uuid() });
const SlugParams = z.object({ slug: z.string().min(1) });
const num = z.string().regex(/^\d+$/).transform(Number);
const ListQuery = z.object({
  projectId: z.string().min(1), offset: num.optional(), limit: num.optional(), search: z.string().optional(),
  enrollmentType: z.string().optional(), issuerType: z.string().optional(), caId: z.string().optional(),
});

export const registerProfileRoutes = (r: Router, s: Services) => {
  for (const base of ["/api/v1/cert-manager/certificate-profiles", "/api/v1/pki/certificate-profiles"]) {
    r.authed("POST", base, async (req, _, actor) => ({ certificateProfile: await s.profiles.create(actor, parse(CreateProfile, req.body, "body")) }));
    r.authed("GET", base, async (req, _, actor) => {
      const q = parse(ListQuery, req.query, "querystring");
      return s.profiles.list(actor, q.projectId, q);
    });
    r.authed("GET", `${base}/slug/:slug`, async (req, _, actor) => {
      const q = parse(z.object({ projectId: z.string().optional() }), req.query, "querystring");
      return { certificateProfile: await s.profiles.getBySlug(actor, parse(SlugParams, req.params, "params").slug, q.projectId) };
    });
    r.authed("GET", `${base}/:id`, async (req, _, actor) => ({ certificateProfile: await s.profiles.get(actor, parse(Params, req.params, "params").id) }));
    r.authed("PATCH", `${base}/:id`, async (req, _, actor) =>
      ({ certificateProfile: await s.profiles.update(actor, parse(Params, req.params, "params").id, parse(UpdateProfile, req.body, "body")) }));
    r.authed("DELETE", `${base}/:id`, async (req, _, actor) => ({ certificateProfile: await s.profiles.remove(actor, parse(Params, req.params, "params").id) }));
  }
};
