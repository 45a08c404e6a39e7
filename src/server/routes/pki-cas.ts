import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

const SubjectField = z.string().max(256);
const CreateCa = z.object({
  projectId: z.string().min(1),
  name: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "must be a slug: lower-case letters, digits and dashes"),
  status: z.string().default("active"),
  disableDirectIssuance: z.boolean().optional(),
  enableDirectIssuance: z.boolean().optional(),
  configuration: z.object({
    type: z.enum(["root", "intermediate"]),
    commonName: SubjectField.default(""), organization: SubjectField.default(""), ou: SubjectField.default(""),
    country: SubjectField.default(""), province: SubjectField.default(""), locality: SubjectField.default(""),
    friendlyName: z.string().optional(), keyAlgorithm: z.string(),
    notBefore: z.string().optional(), notAfter: z.string().optional(),
    maxPathLength: z.number().int().min(-1).nullable().optional(), parentCaId: z.string().optional(),
  }),
});
const UpdateCa = z.object({ name: z.string().optional(), status: z.string().optional(), disableDirectIssuance: z.boolean().optional(), enableDirectIssuance: z.boolean().optional() });
const CaParams = z.object({ caId: z.string().min(1) });
const ListQuery = z.object({ projectId: z.string().min(1) });
const SignIntermediate = z.object({ csr: z.string().min(1), notAfter: z.string().min(1), notBefore: z.string().optional(), maxPathLength: z.number().int().min(-1).optional() });
const RenewCa = z.object({ type: z.string().default("existing"), notAfter: z.string().min(1) });
const ImportCert = z.object({ certificate: z.string().min(1), certificateChain: z.string().default("") });
const RevokeCa = z.object({ revocationReason: z.string().default("UNSPECIFIED") });

export const registerCaRoutes = (r: Router, s: Services) => {
  const caId = (req: { params: unknown }) => parse(CaParams, req.params, "params").caId;
  for (const base of ["/api/v1/cert-manager/ca/internal", "/api/v1/pki/ca/internal"]) {
    r.authed("POST", base, async (req, _, actor) => s.cas.create(actor, parse(CreateCa, req.body, "body")));
    r.authed("GET", base, async (req, _, actor) => s.cas.list(actor, parse(ListQuery, req.query, "querystring").projectId));
    r.authed("GET", `${base}/:caId`, async (req, _, actor) => s.cas.get(actor, caId(req)));
    r.authed("PATCH", `${base}/:caId`, async (req, _, actor) => s.cas.update(actor, caId(req), parse(UpdateCa, req.body, "body")));
    r.authed("DELETE", `${base}/:caId`, async (req, _, actor) => s.cas.remove(actor, caId(req)));
  }
  // Routes addressed by CA id exist under the internal path and the deprecated `/api/v1/pki/ca/:caId` mirror.
  for (const base of ["/api/v1/cert-manager/ca/internal", "/api/v1/pki/ca"]) {
    r.authed("GET", `${base}/:caId/certificate`, async (req, _, actor) => s.cas.certificate(actor, caId(req)));
    r.authed("GET", `${base}/:caId/ca-certificates`, async (req, _, actor) => s.cas.caCertificates(actor, caId(req)));
    r.authed("GET", `${base}/:caId/csr`, async (req, _, actor) => ({ csr: await s.cas.csr(actor, caId(req)) }));
    r.authed("POST", `${base}/:caId/sign-intermediate`, async (req, _, actor) => s.cas.signIntermediateCsr(actor, caId(req), parse(SignIntermediate, req.body, "body")));
    r.authed("POST", `${base}/:caId/import-certificate`, async (req, _, actor) => s.cas.importCertificate(actor, caId(req), parse(ImportCert, req.body, "body")));
    r.authed("POST", `${base}/:caId/renew`, async (req, _, actor) => s.cas.renew(actor, caId(req), parse(RenewCa, req.body, "body")));
    r.authed("POST", `${base}/:caId/revoke`, async (req, _, actor) => s.cas.revoke(actor, caId(req), parse(RevokeCa, req.body ?? {}, "body").revocationReason));
    r.authed("GET", `${base}/:caId/crls`, async (req, _, actor) => s.crls.listForCa(actor, caId(req)));
  }
};
