import type { TLSSocket } from "node:tls";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { IdentityParams, registerWorkloadAuthRoutes, requestInfo, tokenSettings } from "./auth-workload.js";

/**
 * Service identity routes (seed 004; our own API, Infisical has none): service-key settings and public keys,
 * JWT login, certificates for a CSR, instance register tokens, and refresh with the certificate held (mTLS).
 */

const Settings = z.object({
  profileId: z.string().min(1).optional(),
  dnsDomains: z.string().optional(),
  trustDomain: z.string().optional(),
  ...tokenSettings,
});
const AddKey = z.object({ keyVersion: z.string().trim().min(1).max(64), publicKey: z.string().min(1) });
const KeyParams = z.object({ identityId: z.string().min(1), keyVersion: z.string().min(1) });
const Login = z.object({ jwt: z.string().min(1) });
const Csr = { csr: z.string().min(1), ttl: z.string().min(1).optional(), profile: z.string().min(1).optional() };
const CertificateBody = z.object({ jwt: z.string().min(1), ...Csr });
const CreateRegisterToken = z.object({ instanceId: z.string().trim().min(1).max(256), ttl: z.number().int().min(1).optional() });
const Register = z.object({ token: z.string().min(1), instanceId: z.string().min(1), ...Csr });
const Refresh = z.object({ csr: z.string().min(1), ttl: z.string().min(1).optional(), project: z.string().min(1).optional() });

/** The client certificate of an mTLS connection (DER), or undefined on plain HTTP or without one. */
export const peerCertificate = (req: FastifyRequest): Buffer | undefined => {
  const socket = req.raw.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== "function") return undefined;
  const cert = socket.getPeerCertificate(false);
  return cert && cert.raw && cert.raw.length ? cert.raw : undefined;
};

export const registerServiceKeyRoutes = (r: Router, s: Services) => {
  registerWorkloadAuthRoutes(r, s, { slug: "service-key", responseKey: "identityServiceKeyAuth", kind: s.serviceKeys.kind, settings: Settings });
  const base = "/api/v1/auth/service-key";
  const idOf = (req: { params: unknown }) => parse(IdentityParams, req.params, "params").identityId;

  r.authed("POST", `${base}/identities/:identityId/keys`, async (req, _, actor) => ({ serviceKey: await s.serviceKeys.addKey(actor, idOf(req), parse(AddKey, req.body, "body")) }));
  r.authed("GET", `${base}/identities/:identityId/keys`, async (req, _, actor) => ({ serviceKeys: await s.serviceKeys.listKeys(actor, idOf(req)) }));
  r.authed("DELETE", `${base}/identities/:identityId/keys/:keyVersion`, async (req, _, actor) => {
    const p = parse(KeyParams, req.params, "params");
    return { serviceKey: await s.serviceKeys.deleteKey(actor, p.identityId, p.keyVersion) };
  });
  r.authed("POST", `${base}/identities/:identityId/instance-register-tokens`, async (req, _, actor) =>
    s.instanceTokens.create(actor, idOf(req), parse(CreateRegisterToken, req.body, "body")));

  r.open("POST", `${base}/login`, async (req) => s.serviceKeys.login(parse(Login, req.body, "body").jwt, requestInfo(req)));
  r.open("POST", `${base}/certificate`, async (req) => {
    const b = parse(CertificateBody, req.body, "body");
    return s.serviceKeys.certificate(b.jwt, b.csr, { ttl: b.ttl, profile: b.profile }, requestInfo(req));
  });
  r.open("POST", `${base}/instance-register`, async (req) => s.instanceTokens.register(parse(Register, req.body, "body"), requestInfo(req)));
  r.open("POST", `${base}/refresh`, async (req) => s.tlsCert.refresh(peerCertificate(req), parse(Refresh, req.body, "body"), requestInfo(req)));
};
