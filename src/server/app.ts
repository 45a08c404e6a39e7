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

const badRequest = (message: string) => Object.assign(new Error(message), { statusCode: 400 });

/** Where a NUL character is in a parsed JSON value (its path), or undefined: no database text column takes one. */
const nulPath = (v: unknown, path: string): string | undefined => {
  if (typeof v === "string") return v.includes("\0") ? path : undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) { const p = nulPath(v[i], `${path}[${i}]`); if (p) return p; }
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k.includes("\0")) return `${path} (a key)`;
      const p = nulPath(x, `${path}.${k}`);
      if (p) return p;
    }
  }
  return undefined;
};

export interface AppOptions {
  logger: FastifyServerOptions["logger"];
  /** requestCert asks clients for a certificate (mTLS renewal and tls-cert login); the app verifies it, not TLS. */
  https?: { cert: Buffer; key: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean };
  /**
   * Which proxies may tell the client's address (X-Forwarded-For): Fastify's trustProxy, i.e. true (any), a hop
   * count, or addresses/CIDR ranges. Off by default: a client could otherwise claim any address past trusted-IP rules.
   */
  trustProxy?: boolean | number | string[];
}

export const buildApp = (services: Services, opts: AppOptions): FastifyInstance => {
  const app = Fastify({
    logger: opts.logger,
    // One log line per request would cost more than the request itself at benchmark rates: only at debug and
    // trace, where an operator follows a request id through the log.
    logController: new LogController({ disableRequestLogging: !["debug", "trace"].includes((opts.logger as { level?: string } | undefined)?.level ?? "") }),
    // Secret names and paths travel in the URL: 100 characters (Fastify's default) is too short for some.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // Fastify's own refusals (a malformed URL, a parameter too long) get the same error body as ours.
    frameworkErrors: handleError,
    bodyLimit: BODY_LIMIT,
    // Unique across restarts and processes (random prefix) without a CSPRNG call per request; ids are not secrets.
    genReqId: ((prefix: string, n: number) => () => `req-${prefix}${(++n).toString(36)}`)(randomBytes(6).toString("base64url"), 0),
    // Request bodies are validated by zod in the routes; Fastify's own ajv must never coerce types (DESIGN.md).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    ...(opts.https ? { https: opts.https } : {}),
    ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;

  // An empty body sent as JSON means `{}` (api.md 0.1): several routes have all-optional bodies.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string", bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, {});
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return done(badRequest("Request body is not valid JSON"), undefined);
    }
    // JSON can only carry NUL escaped, so most bodies need no walk.
    const nul = text.includes("\\u0000") ? nulPath(value, "body") : undefined;
    done(nul ? badRequest(`${nul}: the NUL character (\\u0000) is not allowed`) : null, nul ? undefined : value);
  });
  // Nor in the URL: PostgreSQL cannot store it in text, so it would end as a 500 there and not on SQLite.
  app.addHook("onRequest", (req, _reply, done) => {
    done(req.url.includes("%00") || req.url.includes("\0") ? badRequest("The URL contains a NUL character (%00), which is not allowed") : undefined);
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
