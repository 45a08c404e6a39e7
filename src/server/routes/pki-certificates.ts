import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

const Attributes = z.object({
  commonName: z.string().nullable().optional(), organization: z.string().nullable().optional(), organizationalUnit: z.string().nullable().optional(),
  country: z.string().nullable().optional(), state: z.string().nullable().optional(), locality: z.string().nullable().optional(),
  altNames: z.array(z.object({ type: z.string(), value: z.string().min(1) })).optional(),
  keyUsages: z.array(z.string()).optional(), extendedKeyUsages: z.array(z.string()).optional(),
  keyAlgorithm: z.string().optional(), signatureAlgorithm: z.string().optional(),
  ttl: z.string().optional(), notBefore: z.string().optional(), notAfter: z.string().optional(),
  basicConstraints: z.object({ isCA: z.boolean(), pathLength: z.number().int().optional() }).optional(),
  removeRootsFromChain: z.boolean().optional(),
});
const Issue = z.object({ profileId: z.string().uuid(), csr: z.string().min(1).optional(), attributes: Attributes.optional(), removeRootsFromChain: z.boolean().optional() });
const Params = z.object({ id: z.string().uuid() });
const RequestParams = z.object({ requestId: z.string().uuid() });
const Revoke = z.object({ revocationReason: z.string().default("UNSPECIFIED") });
const Renew = z.object({ removeRootsFromChain: z.boolean().optional() });
const num = z.string().regex(/^\d+$/).transform(Number);
const RequestListQuery = z.object({
  projectSlug: z.string().min(1).optional(), projectId: z.string().min(1).optional(), offset: num.optional(),
  limit: num.refine((n) => n >= 1 && n <= 100, "must be 1 to 100").optional(), search: z.string().optional(),
  status: z.enum(["pending", "issued", "failed"]).optional(), fromDate: z.string().optional(), toDate: z.string().optional(),
  profileIds: z.string().transform((v) => v.split(",").map((id) => id.trim()).filter(Boolean)).pipe(z.array(z.string().uuid())).optional(),
  sortOrder: z.enum(["asc", "desc"]).optional(),
});
const ListQuery = z.object({
  projectId: z.string().min(1), status: z.enum(["active", "expired", "revoked"]).optional(), commonName: z.string().optional(),
  expiringBefore: z.string().optional(), offset: num.optional(), limit: num.optional(),
});

export const registerCertificateRoutes = (r: Router, s: Services) => {
  const base = "/api/v1/cert-manager/certificates";
  const id = (req: { params: unknown }) => parse(Params, req.params, "params").id;
  r.authed("POST", base, async (req, _, actor) => s.certificates.issue(actor, parse(Issue, req.body, "body")));
  r.authed("GET", base, async (req, _, actor) => {
    const q = parse(ListQuery, req.query, "querystring");
    return s.certificates.list(actor, q.projectId, q);
  });
  r.authed("GET", `${base}/certificate-requests`, async (req, _, actor) => {
    const { projectSlug, projectId, ...q } = parse(RequestListQuery, req.query, "querystring");
    return s.certificates.requests(actor, { projectSlug, projectId }, q);
  });
  r.authed("GET", `${base}/certificate-requests/:requestId`, async (req, _, actor) =>
    s.certificates.request(actor, parse(RequestParams, req.params, "params").requestId));
  r.authed("GET", `${base}/:id`, async (req, _, actor) => ({ certificate: await s.certificates.get(actor, id(req)) }));
  r.authed("GET", `${base}/:id/bundle`, async (req, _, actor) => s.certificates.bundle(actor, id(req)));
  r.authed("GET", `${base}/:id/certificate`, async (req, _, actor) => s.certificates.certificateBody(actor, id(req)));
  r.authed("GET", `${base}/:id/private-key`, async (req, reply, actor) => {
    const pem = await s.certificates.privateKey(actor, id(req));
    reply.type("text/plain; charset=utf-8").header("cache-control", "no-store");
    return pem;
  });
  r.authed("POST", `${base}/:id/revoke`, async (req, _, actor) => s.certificates.revoke(actor, id(req), parse(Revoke, req.body, "body").revocationReason));
  r.authed("POST", `${base}/:id/renew`, async (req, _, actor) => s.certificates.renew(actor, id(req), parse(Renew, req.body, "body")));
  r.authed("DELETE", `${base}/:id`, async (req, _, actor) => ({ certificate: await s.certificates.remove(actor, id(req)) }));
};
