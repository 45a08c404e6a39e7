import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

const Rule = z.object({ allowed: z.array(z.string()).optional(), required: z.array(z.string()).optional(), denied: z.array(z.string()).optional() });
const Rules = {
  subject: z.array(Rule.extend({ type: z.string() })).optional(),
  sans: z.array(Rule.extend({ type: z.string() })).optional(),
  keyUsages: Rule.optional(),
  extendedKeyUsages: Rule.optional(),
  algorithms: z.object({ signature: z.array(z.string()).min(1).optional(), keyAlgorithm: z.array(z.string()).min(1).optional() }).optional(),
  validity: z.object({ max: z.string().optional() }).optional(),
};
const CreatePolicy = z.object({ projectId: z.string().min(1), name: z.string().min(1).max(255), description: z.string().max(1000).optional(), ...Rules });
const UpdatePolicy = z.object({ name: z.string().min(1).max(255).optional(), description: z.string().max(1000).optional(), ...Rules });
const Params = z.object({ id: z.string().uuid() });
const num = z.string().regex(/^\d+$/).transform(Number);
const ListQuery = z.object({ projectId: z.string().min(1), offset: num.optional(), limit: num.optional(), search: z.string().optional() });

export const registerPolicyRoutes = (r: Router, s: Services) => {
  for (const base of ["/api/v1/cert-manager/certificate-policies", "/api/v2/certificate-templates"]) {
    r.authed("POST", base, async (req, _, actor) => ({ certificatePolicy: await s.policies.create(actor, parse(CreatePolicy, req.body, "body")) }));
    r.authed("GET", base, async (req, _, actor) => {
      const q = parse(ListQuery, req.query, "querystring");
      return s.policies.list(actor, q.projectId, q);
    });
    r.authed("GET", `${base}/:id`, async (req, _, actor) => ({ certificatePolicy: await s.policies.get(actor, parse(Params, req.params, "params").id) }));
    r.authed("PATCH", `${base}/:id`, async (req, _, actor) =>
      ({ certificatePolicy: await s.policies.update(actor, parse(Params, req.params, "params").id, parse(UpdatePolicy, req.body, "body")) }));
    r.authed("DELETE", `${base}/:id`, async (req, _, actor) => ({ certificatePolicy: await s.policies.remove(actor, parse(Params, req.params, "params").id) }));
  }
};
