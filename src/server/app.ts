import { randomBytes } from "node:crypto";
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Services } from "./services.js";
import { errorBody, handleError } from "./errors.js";
import { registerEtag } from "./etag.js";
import { router } from "./route.js";
import { registerStatusRoutes } from "./routes/status.js";
import { registerAdminRoutes } from "./routes/admin.js";
import { registerIdentityRoutes } from "./routes/identities.js";
import { registerAuthRoutes } from "./routes/auth.js";
import { registerProjectRoutes } from "./routes/projects.js";
import { registerAuditRoutes } from "./routes/audit.js";
import { registerCaRoutes } from "./routes/pki-cas.js";
import { registerPolicyRoutes } from "./routes/pki-policies.js";
import { registerProfileRoutes } from "./routes/pki-profiles.js";
import { registerCertificateRoutes } from "./routes/pki-certificates.js";
import { registerPkiPublicRoutes } from "./routes/pki-public.js";
import { registerDynamicSecretRoutes } from "./routes/dynamic-secrets.js";
import { registerSecretRoutes } from "./routes/secrets.js";
import { registerSecretEventRoutes } from "./routes/secret-events.js";
import { registerFolderRoutes } from "./routes/folders.js";
import { registerSecretImportRoutes } from "./routes/secret-imports.js";
import { registerTagRoutes } from "./routes/tags.js";
import { registerKubernetesAuthRoutes } from "./routes/auth-kubernetes.js";
import { registerAwsAuthRoutes } from "./routes/auth-aws.js";
import { registerGcpAuthRoutes } from "./routes/auth-gcp.js";
import { registerAzureAuthRoutes } from "./routes/auth-azure.js";
import { registerServiceKeyRoutes } from "./routes/auth-service-key.js";
import { registerTlsCertAuthRoutes } from "./routes/auth-tls-cert.js";
import { registerAcmeRoutes } from "./routes/acme.js";
import { registerAcmeEabRoutes } from "./routes/acme-eab.js";
import { registerEstRoutes } from "./routes/est.js";
import { registerExternalCaRoutes } from "./routes/pki-external.js";
import { registerKmsKeyRoutes } from "./routes/kms-keys.js";

export const BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  logger: FastifyServerOptions["logger"];
  /** requestCert asks clients for a certificate (mTLS renewal and tls-cert login); the app verifies it, not TLS. */
  https?: { cert: Buffer; key: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean };
}

export const buildApp = (services: Services, opts: AppOptions): FastifyInstance => {
  const app = Fastify({
    logger: opts.logger,
    // One log line per request would cost more than the request itself at benchmark rates.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: BODY_LIMIT,
    // Unique across restarts and processes (random prefix) without a CSPRNG call per request; ids are not secrets.
    genReqId: ((prefix: string, n: number) => () => `req-${prefix}${(++n).toString(36)}`)(randomBytes(6).toString("base64url"), 0),
    // Request bodies are validated by zod in the routes; Fastify's own ajv must never coerce types (DESIGN.md).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    ...(opts.https ? { https: opts.https } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;

  // An empty body sent as JSON means `{}` (api.md 0.1): several routes have all-optional bodies.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string", bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      const e = new Error("Request body is not valid JSON") as Error & { statusCode: number };
      e.statusCode = 400;
      done(e, undefined);
    }
  });

  // ACME bodies are JWS JSON (RFC 8555 6.2), parsed by the ACME layer so a malformed one gets a problem document;
  // EST requests are base64 PKCS#10 (RFC 7030 4.2.1).
  app.addContentTypeParser("application/jose+json", { parseAs: "string", bodyLimit: 256 * 1024 }, (_req, body, done) => done(null, body));
  app.addContentTypeParser("application/pkcs10", { parseAs: "buffer", bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

  // OCSP requests arrive as DER (RFC 6960 appendix A).
  app.addContentTypeParser("application/ocsp-request", { parseAs: "buffer", bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody(req.id, 404, "NotFound", `Route ${req.method}:${req.url.split("?")[0]} not found`)));
  registerEtag(app);

  const r = router(app, services.tokens);
  registerStatusRoutes(r, services);
  registerAdminRoutes(r, services);
  registerAuthRoutes(r, services);
  registerIdentityRoutes(r, services);
  registerProjectRoutes(r, services);
  registerAuditRoutes(r, services);
  registerCaRoutes(r, services);
  registerPolicyRoutes(r, services);
  registerProfileRoutes(r, services);
  registerCertificateRoutes(r, services);
  registerPkiPublicRoutes(r, services);
  registerDynamicSecretRoutes(r, services);
  registerSecretRoutes(r, services);
  registerSecretEventRoutes(r, services, app);
  registerFolderRoutes(r, services);
  registerSecretImportRoutes(r, services);
  registerTagRoutes(r, services);
  registerKubernetesAuthRoutes(r, services);
  registerAwsAuthRoutes(r, services);
  registerGcpAuthRoutes(r, services);
  registerAzureAuthRoutes(r, services);
  registerServiceKeyRoutes(r, services);
  registerTlsCertAuthRoutes(r, services);
  registerAcmeRoutes(r, services);
  registerAcmeEabRoutes(r, services);
  registerEstRoutes(r, services);
  registerExternalCaRoutes(r, services);
  registerKmsKeyRoutes(r, services);
  return app;
};
