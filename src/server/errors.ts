import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import {
  BadRequestError, ForbiddenError, KmsError, NotFoundError, RateLimitError, UnauthorizedError, UpstreamError, ValidationError,
} from "../core/errors.js";
import { isUniqueViolation } from "../store/secrets.js";

/** The only place where typed errors become HTTP statuses (api.md 0.4). */
const statusOf = (e: KmsError): number =>
  e instanceof ValidationError ? 422
  : e instanceof BadRequestError ? 400
  : e instanceof UnauthorizedError ? 401
  : e instanceof ForbiddenError ? 403
  : e instanceof NotFoundError ? 404
  : e instanceof RateLimitError ? 429
  : e instanceof UpstreamError ? 502
  : 500;

export const errorBody = (reqId: string, statusCode: number, error: string, message: unknown, details?: unknown) => ({
  reqId, statusCode, message, error, ...(details !== undefined ? { details } : {}),
});

export const handleError = (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
  if (err instanceof KmsError) {
    const status = statusOf(err);
    if (err instanceof RateLimitError) reply.header("retry-after", String(err.retryAfterSeconds));
    if (status === 500) req.log.error({ err: { name: err.name, message: err.message } }, "internal error");
    const message = err instanceof ValidationError ? (err.details ?? [{ message: err.message }]) : err.message;
    const details = err instanceof ValidationError ? undefined : err.details;
    return reply.status(status).send(errorBody(req.id, status, status === 500 ? "InternalServerError" : err.wireName, status === 500 ? "Something went wrong" : message, details));
  }
  // Two requests creating the same thing at once both pass the service's "already exists?" check, and the
  // database's unique index refuses the second: that is the same 400 a later request gets, not a 500.
  if (isUniqueViolation(err)) {
    const db = err as Error & { constraint?: string };
    const what = db.constraint ?? /UNIQUE constraint failed: (\S+)/.exec(db.message)?.[1];
    return reply.status(400).send(errorBody(req.id, 400, "BadRequest", `It already exists: another request created the same one at the same time${what ? ` (unique ${what})` : ""}`));
  }
  const fe = err as FastifyError;
  // EST errors are plain text (RFC 7030 4.2.3) and its bodies PKCS#10 of at most 64 KiB (app.ts), not JSON of 1 MiB.
  if (req.routeOptions.url?.startsWith("/.well-known/est/") && (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE" || fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")) {
    const tooLarge = fe.code === "FST_ERR_CTP_BODY_TOO_LARGE";
    return reply.status(tooLarge ? 413 : 415).type("text/plain; charset=utf-8")
      .send(tooLarge ? "The request body is larger than 64 KiB\n" : "EST requests are base64 PKCS#10 sent with Content-Type: application/pkcs10 (RFC 7030 4.2.1)\n");
  }
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") return reply.status(413).send(errorBody(req.id, 413, "PayloadTooLarge", "Request body is larger than 1 MiB"));
  if (fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return reply.status(415).send(errorBody(req.id, 415, "UnsupportedMediaType", "Request bodies must be JSON (Content-Type: application/json)"));
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)
    return reply.status(fe.statusCode).send(errorBody(req.id, fe.statusCode, "BadRequest", fe.message));
  // Unknown failures (a database error, a bug) never reach the wire with their text: it may hold data.
  req.log.error({ err: { name: err.name, message: err.message, stack: err.stack } }, "unhandled error");
  return reply.status(500).send(errorBody(req.id, 500, "InternalServerError", "Something went wrong"));
};
