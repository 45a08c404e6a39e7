import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Actor } from "../core/actor.js";
import { UnauthorizedError, ValidationError } from "../core/errors.js";
import type { TokenService } from "../core/identity/token-service.js";

/**
 * Schemas are zod objects (unknown keys are stripped, never rejected: clients rely on that, api.md 0.1)
 * and nothing is coerced: a number where a string belongs is a 422 naming the field.
 */
export const parse = <S extends z.ZodType>(schema: S, value: unknown, where: "body" | "querystring" | "params"): z.output<S> => {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ ...i, path: [where, ...i.path] }));
  throw new ValidationError(issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), issues);
};

type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
type Handler<T> = (req: FastifyRequest, reply: FastifyReply, actor: T) => Promise<unknown>;

export interface Router {
  /** A route that needs no token (logins, bootstrap, CRL and CA downloads). */
  open(method: Method, url: string, handler: Handler<undefined>): void;
  /** A route for an authenticated machine identity; the token is checked in a preHandler hook. */
  authed(method: Method, url: string, handler: Handler<Actor>): void;
}

export const bearer = (req: FastifyRequest): string => {
  const h = req.headers.authorization;
  if (!h) throw new UnauthorizedError("Missing Authorization header: expected 'Bearer <access token>'");
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m) throw new UnauthorizedError("Malformed Authorization header: expected 'Bearer <access token>'");
  return m[1]!;
};

declare module "fastify" {
  interface FastifyRequest { actor?: Actor }
}

export const router = (app: FastifyInstance, tokens: Pick<TokenService, "authenticate">): Router => ({
  open: (method, url, handler) => app.route({ method, url, handler: (req, reply) => handler(req, reply, undefined) }),
  authed: (method, url, handler) =>
    app.route({
      method, url,
      preHandler: async (req) => {
        req.actor = await tokens.authenticate(bearer(req), { ip: req.ip, userAgent: req.headers["user-agent"] });
      },
      handler: (req, reply) => handler(req, reply, req.actor!),
    }),
});
