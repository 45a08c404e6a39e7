import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { nonNegInt, seconds, trustedIps } from "../schemas.js";

const Metadata = z.array(z.object({ key: z.string().min(1), value: z.string() }));
const CreateIdentity = z.object({
  name: z.string().trim().min(1), organizationId: z.string().min(1), role: z.string().optional(),
  hasDeleteProtection: z.boolean().optional(), metadata: Metadata.optional(),
});
const UpdateIdentity = z.object({ name: z.string().trim().min(1).optional(), role: z.string().optional(), hasDeleteProtection: z.boolean().optional(), metadata: Metadata.optional() });
const IdentityParams = z.object({ identityId: z.string().min(1) });
const SecretParams = z.object({ identityId: z.string().min(1), clientSecretId: z.string().min(1) });
const UaSettings = z.object({
  clientSecretTrustedIps: trustedIps.optional(),
  accessTokenTrustedIps: trustedIps.optional(),
  accessTokenTTL: seconds.optional(),
  accessTokenMaxTTL: seconds.optional(),
  accessTokenNumUsesLimit: nonNegInt.optional(),
  accessTokenPeriod: nonNegInt.optional(),
  lockoutEnabled: z.boolean().optional(),
  lockoutThreshold: z.number().int().min(1).max(30).optional(),
  lockoutDurationSeconds: z.number().int().min(30).max(86400).optional(),
  lockoutCounterResetSeconds: z.number().int().min(5).max(3600).optional(),
});
const CreateClientSecret = z.object({ description: z.string().optional(), numUsesLimit: nonNegInt.optional(), ttl: seconds.optional() });

export const registerIdentityRoutes = (r: Router, s: Services) => {
  r.authed("POST", "/api/v1/identities", async (req, _, actor) => ({ identity: await s.identities.create(actor, parse(CreateIdentity, req.body, "body")) }));
  r.authed("GET", "/api/v1/identities", async (_, __, actor) => {
    const identities = await s.identities.list(actor);
    return { identities: identities.map((i) => ({ identity: i, role: i.role })), totalCount: identities.length };
  });
  r.authed("GET", "/api/v1/identities/:identityId", async (req, _, actor) => {
    const i = await s.identities.get(actor, parse(IdentityParams, req.params, "params").identityId);
    return { identity: { id: i.id, role: i.role, orgId: i.orgId, createdAt: i.createdAt, updatedAt: i.updatedAt, identity: i } };
  });
  r.authed("PATCH", "/api/v1/identities/:identityId", async (req, _, actor) =>
    ({ identity: await s.identities.update(actor, parse(IdentityParams, req.params, "params").identityId, parse(UpdateIdentity, req.body, "body")) }));
  r.authed("DELETE", "/api/v1/identities/:identityId", async (req, _, actor) =>
    ({ identity: await s.identities.remove(actor, parse(IdentityParams, req.params, "params").identityId) }));

  const ua = "/api/v1/auth/universal-auth/identities/:identityId";
  const idOf = (req: { params: unknown }) => parse(IdentityParams, req.params, "params").identityId;
  r.authed("POST", ua, async (req, _, actor) => ({ identityUniversalAuth: await s.universalAuth.attach(actor, idOf(req), parse(UaSettings, req.body, "body")) }));
  r.authed("GET", ua, async (req, _, actor) => ({ identityUniversalAuth: await s.universalAuth.get(actor, idOf(req)) }));
  r.authed("PATCH", ua, async (req, _, actor) => ({ identityUniversalAuth: await s.universalAuth.update(actor, idOf(req), parse(UaSettings, req.body, "body")) }));
  r.authed("DELETE", ua, async (req, _, actor) => ({ identityUniversalAuth: await s.universalAuth.detach(actor, idOf(req)) }));
  r.authed("POST", `${ua}/client-secrets`, async (req, _, actor) => s.universalAuth.createClientSecret(actor, idOf(req), parse(CreateClientSecret, req.body, "body")));
  r.authed("GET", `${ua}/client-secrets`, async (req, _, actor) => ({ clientSecretData: await s.universalAuth.listClientSecrets(actor, idOf(req)) }));
  r.authed("GET", `${ua}/client-secrets/:clientSecretId`, async (req, _, actor) => {
    const p = parse(SecretParams, req.params, "params");
    return { clientSecretData: await s.universalAuth.getClientSecret(actor, p.identityId, p.clientSecretId) };
  });
  r.authed("POST", `${ua}/client-secrets/:clientSecretId/revoke`, async (req, _, actor) => {
    const p = parse(SecretParams, req.params, "params");
    return { clientSecretData: await s.universalAuth.revokeClientSecret(actor, p.identityId, p.clientSecretId) };
  });
  r.authed("POST", `${ua}/clear-lockouts`, async (req, _, actor) => ({ deleted: await s.universalAuth.clearLockouts(actor, idOf(req)) }));
};
