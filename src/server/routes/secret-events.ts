import { z } from "zod";
import type { FastifyInstance } from "fastify";
import { parse, type Router } from "../route.js";
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
 * A stream ends after MAX_STREAM_MS: the client reconnects with Last-Event-ID (nothing is lost) and its
 * token is checked again, so a revoked token does not keep a stream for ever.
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

export const registerSecretEventRoutes = (r: Router, s: Services, app: FastifyInstance) => {
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

    const heartbeat = setInterval(() => res.write(": ping\n\n"), HEARTBEAT_MS);
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
