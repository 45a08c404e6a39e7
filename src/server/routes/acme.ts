/**
 * The ACME server of every ACME profile (RFC 8555), directory at
 * `/api/v1/cert-manager/acme/profiles/:profileId/directory`. Handlers only translate: each calls one function
 * of src/core/acme and renders its AcmeResponse; every answer carries a fresh Replay-Nonce and a Link to the
 * directory (RFC 8555 6.5, 7.1), and every failure is an `application/problem+json` document (6.7).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import type { RequestInfo } from "../../core/actor.js";
import { AcmeProblem, problem } from "../../core/acme/problem.js";
import type { AcmeContext } from "../../core/acme/request.js";
import type { AcmeResponse } from "../../core/acme/response.js";
import { ACME_PREFIX } from "../../core/acme/urls.js";
import { KmsError, NotFoundError, RateLimitError } from "../../core/errors.js";

const Ids = z.object({ profileId: z.string().min(1), id: z.string().min(1).max(200).optional() });
const info = (req: FastifyRequest): RequestInfo => ({ ip: req.ip, userAgent: req.headers["user-agent"] });

type Handler = (ctx: AcmeContext, req: FastifyRequest, id: string) => Promise<AcmeResponse>;

export const registerAcmeRoutes = (r: Router, s: Services) => {
  /**
   * RFC 8555 6.5: a nonce with every POST answer (errors too) and from newNonce. Plain GETs (directory,
   * certificate, renewalInfo) get none: each nonce is a database row, and those GETs need no token.
   */
  const common = async (reply: FastifyReply, ctx: AcmeContext | undefined, nonce: boolean) => {
    if (nonce) reply.header("replay-nonce", await s.acme.nonces.issue());
    reply.header("cache-control", "no-store");
    if (ctx) reply.header("link", `<${ctx.urls.directory}>;rel="index"`);
  };

  const renderProblem = async (reply: FastifyReply, req: FastifyRequest, ctx: AcmeContext | undefined, e: unknown, nonce: boolean) => {
    let p: AcmeProblem;
    if (e instanceof AcmeProblem) p = e;
    else if (e instanceof RateLimitError) p = problem("rateLimited", e.message, { retryAfterSeconds: e.retryAfterSeconds });
    else if (e instanceof NotFoundError) p = problem("malformed", e.message, { status: 404 });
    else if (e instanceof KmsError && e.wireName !== "InternalServerError") p = problem("malformed", e.message);
    else {
      req.log.error({ err: { name: (e as Error).name, message: (e as Error).message, stack: (e as Error).stack } }, "ACME request failed");
      p = problem("serverInternal", "Something went wrong");
    }
    await common(reply, ctx, nonce).catch(() => undefined);
    if (p.extra.retryAfterSeconds) reply.header("retry-after", String(p.extra.retryAfterSeconds));
    if (p.extra.location) reply.header("location", p.extra.location);
    return reply.status(p.status).type("application/problem+json").send(JSON.stringify(p.toDocument()));
  };

  const handle = (h: Handler, opts: { jose?: boolean; nonce?: boolean } = {}) => async (req: FastifyRequest, reply: FastifyReply) => {
    const nonce = !!(opts.jose || opts.nonce);
    let ctx: AcmeContext | undefined;
    try {
      const { profileId, id } = parse(Ids, req.params, "params");
      const c = (ctx = await s.acme.requests.context(profileId));
      // RFC 8555 6.2: JWS bodies come as application/jose+json; anything else is refused before it is read.
      if (opts.jose && !/^application\/jose\+json\s*(;|$)/i.test(req.headers["content-type"] ?? ""))
        throw problem("malformed", "Content-Type must be application/jose+json", { status: 415 });
      const res = await h(c, req, id ?? "");
      await common(reply, c, nonce);
      if (res.location) reply.header("location", res.location);
      for (const l of res.links ?? []) reply.header("link", [reply.getHeader("link"), `<${l.url}>;rel="${l.rel}"`].filter(Boolean).join(", "));
      if (res.retryAfter) reply.header("retry-after", String(res.retryAfter));
      reply.status(res.status ?? 200);
      if (res.body === undefined || res.body === "") return reply.send();
      if (typeof res.body === "string") return reply.type(res.contentType ?? "text/plain").send(res.body);
      return reply.type(res.contentType ?? "application/json").send(JSON.stringify(res.body));
    } catch (e) {
      return renderProblem(reply, req, ctx, e, nonce);
    }
  };

  const at = (path: string) => `${ACME_PREFIX}/:profileId${path}`;
  const post = (path: string, h: Handler) => r.open("POST", at(path), handle(h, { jose: true }));
  const get = (path: string, h: Handler, nonce = false) => r.open("GET", at(path), handle(h, { nonce }));

  get("/directory", async (ctx) => ({ body: s.acme.directory(ctx) }));
  // RFC 8555 7.2: HEAD answers 200, GET 204; Fastify serves HEAD through the GET route.
  get("/new-nonce", async (_ctx, req) => ({ status: req.method === "HEAD" ? 200 : 204 }), true);
  post("/new-account", (ctx, req) => s.acme.accounts.newAccount(ctx, req.body, info(req)));
  post("/accounts/:id", (ctx, req, id) => s.acme.accounts.account(ctx, id, req.body, info(req)));
  post("/accounts/:id/orders", (ctx, req, id) => s.acme.accounts.orders(ctx, id, req.body));
  post("/key-change", (ctx, req) => s.acme.accounts.keyChange(ctx, req.body, info(req)));
  post("/new-order", (ctx, req) => s.acme.orders.newOrder(ctx, req.body));
  post("/orders/:id", (ctx, req, id) => s.acme.orders.getOrder(ctx, id, req.body));
  post("/orders/:id/finalize", (ctx, req, id) => s.acme.finalize.finalize(ctx, id, req.body, info(req)));
  post("/authorizations/:id", (ctx, req, id) => s.acme.orders.authorization(ctx, id, req.body));
  post("/challenges/:id", (ctx, req, id) => s.acme.challenges.respond(ctx, id, req.body));
  post("/certificates/:id", (ctx, req, id) => s.acme.finalize.certificate(ctx, id, req.body));
  get("/certificates/:id", (ctx, _req, id) => s.acme.finalize.certificate(ctx, id, null));
  post("/revoke-cert", (ctx, req) => s.acme.revocation.revoke(ctx, req.body, info(req)));
  get("/renewal-info/:id", (ctx, _req, id) => s.acme.ari.renewalInfo(ctx, id));
};
