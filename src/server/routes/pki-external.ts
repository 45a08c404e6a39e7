import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { NotFoundError } from "../../core/errors.js";
import { CHALLENGE_TYPES } from "../../core/pki/external/external-ca-service.js";

const CreateAcmeCa = z.object({
  projectId: z.string().min(1),
  name: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "must be a slug: lower-case letters, digits and dashes"),
  directoryUrl: z.string().min(1),
  accountEmail: z.string().email(),
  eabKid: z.string().min(1).optional(),
  eabHmacKey: z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, "must be base64url").optional(),
  challengeType: z.enum(CHALLENGE_TYPES).optional(),
  // Checked by the provider's own schema in core (dns/index.ts); tsigSecret is split off and sealed.
  dnsProvider: z.record(z.string(), z.unknown()).optional(),
  caBundle: z.string().max(65_536).optional(),
  orderTimeoutSeconds: z.number().int().min(1).max(7 * 86_400).optional(),
});
const CaParams = z.object({ caId: z.string().min(1) });
const ListQuery = z.object({ projectId: z.string().min(1) });
const TokenParams = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]+$/) });

export const registerExternalCaRoutes = (r: Router, s: Services) => {
  const base = "/api/v1/cert-manager/ca/acme";
  r.authed("POST", base, async (req, _, actor) => s.externalCas.createAcmeCa(actor, parse(CreateAcmeCa, req.body, "body")));
  r.authed("GET", base, async (req, _, actor) => s.externalCas.list(actor, parse(ListQuery, req.query, "querystring").projectId));
  r.authed("GET", `${base}/:caId`, async (req, _, actor) => s.externalCas.get(actor, parse(CaParams, req.params, "params").caId));
  // http-01 (RFC 8555 8.3): the upstream CA fetches the key authorization from us, unauthenticated, as plain text.
  r.open("GET", "/.well-known/acme-challenge/:token", async (req, reply) => {
    const { token } = parse(TokenParams, req.params, "params");
    const ka = await s.externalCas.httpChallenge(token);
    if (!ka) throw new NotFoundError("No such ACME challenge token");
    reply.type("text/plain");
    return ka;
  });
};
