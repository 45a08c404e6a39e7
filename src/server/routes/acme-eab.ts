import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

const Params = z.object({ id: z.string().uuid() });
const KidParams = z.object({ id: z.string().uuid(), kid: z.string().uuid() });
const Create = z.object({ description: z.string().max(1000).optional() });

/**
 * External-account-binding credentials of an ACME profile (project admins). The HMAC key is in the create
 * response only; listing shows key identifiers and how many accounts each bound.
 */
export const registerAcmeEabRoutes = (r: Router, s: Services) => {
  for (const base of ["/api/v1/cert-manager/certificate-profiles/:id/acme/eab-credentials", "/api/v1/pki/certificate-profiles/:id/acme/eab-credentials"]) {
    r.authed("POST", base, async (req, _, actor) =>
      ({ eabCredential: await s.acme.eab.create(actor, parse(Params, req.params, "params").id, parse(Create, req.body, "body")) }));
    r.authed("GET", base, async (req, _, actor) => ({ eabCredentials: await s.acme.eab.list(actor, parse(Params, req.params, "params").id) }));
    r.authed("DELETE", `${base}/:kid`, async (req, _, actor) => {
      const p = parse(KidParams, req.params, "params");
      return { eabCredential: await s.acme.eab.remove(actor, p.id, p.kid) };
    });
  }
};
