import { z } from "zod";
import type { FastifyInstance } from "fastify";
import { bearer, parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { qbool } from "../schemas.js";
import type { SecretChangeEvent } from "../../core/secrets/change-feed.js";

/**
 * GET /api/v1/secrets/events?projectId=&environment=&secretPath=&recursive= — a server-sent-events
 * stream of committed secret changes in one folder (or its subtree), for the agent's push re-renders.
 * Ours: no peer offers it. Auth is the usual bearer token with project `viewer`; an error before the
 * stream starts is the usual JSON error (401/403/404/422).
 *
 *   event: ready    data: {"projectId","environment","secretPath","recursive"}   (stream is live)
 *   event: change   data: {"projectId","environment","secretPath","secretKey","action"[,"newSecretKey"]}
 *   event: resync   data: {...filter}   (changes may have been missed: read everything again; sent when
 *                                        Last-Event-ID cannot be replayed, and live when this server's
 *                                        relay from the other servers was interrupted)
 *   : ping                               (heartbeat comment)
 *
 * A stream ends after MAX_STREAM_MS: the client reconnects with Last-Event-ID (nothing is lost). With every
 * heartbeat (HEARTBEAT_MS, or KMS_SECRET_EVENTS_HEARTBEAT_MS) the token and the caller's role in the project
 * are checked again: a stream ends within a heartbeat of its token being revoked or expiring, or of its access to the project ending (a removed
 * membership, a temporary one whose time is up); the reconnect then gets the 401 or 403.
 */

export const HEARTBEAT_MS = 15_000;
export const MAX_STREAM_MS = 10 * 60_000;

const Query = z.object({
  projectId: z.string().min(1),
  environment: z.string().min(1),
  secretPath: z.string().optional(),
  recursive: qbool.optional(),
  /** For clients that cannot set the Last-Event-ID header. */
  lastEventId: z.string().optional(),
});

const frame = (event: string, data: unknown, id?: string) => `${id ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

const changeData = (e: SecretChangeEvent) => ({
  projectId: e.projectId,
  environment: e.environment,
  secretPath: e.secretPath,
  secretKey: e.secretKey,
  action: e.action,
  ...(e.newSecretKey !== undefined && { newSecretKey: e.newSecretKey }),
});

export const registerSecretEventRoutes = (r: Router, s: Services, app: FastifyInstance, env: NodeJS.ProcessEnv = process.env) => {
  // Shorter behind a proxy that drops connections idle for less than 15 s; also how soon a lost access ends a stream.
  const heartbeatMs = Number(env.KMS_SECRET_EVENTS_HEARTBEAT_MS) > 0 ? Number(env.KMS_SECRET_EVENTS_HEARTBEAT_MS) : HEARTBEAT_MS;
  const open = new Set<() => void>();
  // Streams never end on their own: close them first, or the server's shutdown would wait for them.
  app.addHook("preClose", async () => {
    for (const end of [...open]) end();
  });

  r.authed("GET", "/api/v1/secrets/events", async (req, reply, actor) => {
    const q = parse(Query, req.query, "querystring");
    const header = req.headers["last-event-id"];
    const lastEventId = (Array.isArray(header) ? header[0] : header) ?? q.lastEventId;
    let live = false;
    // What arrives between subscribing and the stream's first bytes is written just before `ready`.
    const pending: (SecretChangeEvent | { resync: string })[] = [];
    let send = (e: SecretChangeEvent) => void pending.push(e);
    let resync = (id: string) => void pending.push({ resync: id });
    const sub = await s.secretChanges.subscribe(actor, { ...q, recursive: q.recursive ?? false, lastEventId }, { change: (e) => send(e), resync: (id) => resync(id) });

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const filter = sub.filter;
    const sent = new Set<string>();
    const write = (e: SecretChangeEvent) => {
      if (sent.has(e.id)) return;
      sent.add(e.id);
      res.write(frame("change", changeData(e), e.id));
    };
    res.write("retry: 1000\n\n");
    if (sub.backlog === "resync") res.write(frame("resync", filter, sub.lastId));
    else for (const e of sub.backlog) write(e);
    // Pending ids all follow sub.lastId: `ready` carries the newest, so a reconnect does not go back before them.
    let newest = sub.lastId;
    for (const p of pending) {
      if ("resync" in p) res.write(frame("resync", filter, p.resync));
      else write(p);
      newest = "resync" in p ? p.resync : p.id;
    }
    res.write(frame("ready", filter, newest));
    live = true;
    sent.clear();
    send = (e) => {
      if (live) res.write(frame("change", changeData(e), e.id));
    };
    resync = (id) => {
      if (live) res.write(frame("resync", filter, id));
    };

    const token = bearer(req);
    const still = async () => {
      try {
        await s.access.requireProject(await s.tokens.reauthenticate(token, { ip: actor.ip, userAgent: actor.userAgent }), q.projectId, "viewer");
        return true;
      } catch {
        return false;
      }
    };
    const heartbeat = setInterval(() => {
      void still().then((ok) => (ok ? live && res.write(": ping\n\n") : end()));
    }, heartbeatMs);
    const end = () => {
      if (!live) return;
      live = false;
      clearInterval(heartbeat);
      clearTimeout(expiry);
      sub.close();
      open.delete(end);
      res.end();
    };
    const expiry = setTimeout(end, MAX_STREAM_MS);
    open.add(end);
    res.on("close", end);
    res.on("error", end);
  });
};
