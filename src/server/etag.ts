import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";

export const etagOf = (payload: string | Buffer): string => `"${createHash("sha256").update(payload).digest("base64url").slice(0, 27)}"`;

/**
 * Every 200 JSON GET carries `ETag: "<hash of the exact body bytes>"` and honours If-None-Match (api.md 0.2):
 * the Go agent re-renders a template only when this changes, so it must change iff the body does.
 */
export const registerEtag = (app: FastifyInstance) => {
  app.addHook("onSend", async (req, reply, payload) => {
    if (req.method !== "GET" || reply.statusCode !== 200 || (typeof payload !== "string" && !Buffer.isBuffer(payload))) return payload;
    // A route that sends pre-serialized bytes may set the ETag itself, computed with etagOf over those
    // same bytes (the secrets list caches both, so a 600 KB body is not hashed on every request).
    const preset = reply.getHeader("etag");
    const etag = typeof preset === "string" ? preset : etagOf(payload);
    reply.header("etag", etag);
    const inm = req.headers["if-none-match"];
    if (inm && inm.split(",").some((t) => t.trim() === etag || t.trim() === `W/${etag}`)) {
      reply.code(304);
      reply.removeHeader("content-length");
      return "";
    }
    return payload;
  });
};
