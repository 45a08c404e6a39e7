import type { SecretEventsClient, ServerSentEvent } from "../../client/secret-events.js";
import type { Clock } from "../../core/clock.js";
import type { Logger } from "../log.js";
import { backoffDelay } from "../retry.js";
import type { TokenManager } from "../token.js";
import { scopeKey } from "./functions.js";
import type { SecretScope } from "./functions.js";

/**
 * The agent's side of the server's change stream (GET /api/v1/secrets/events). Templates declare the
 * folders they read (`setInterest`); one stream is kept open per folder (a recursive one covers its
 * sub-folders), reconnecting with backoff and Last-Event-ID so nothing is missed across a reconnect.
 * Listeners hear about each change, and a `resync` whenever events may have been missed (first connect,
 * a server restart): both just make the affected templates render again, so a spurious one costs one
 * read and no write. Polling goes on regardless: while a stream is down, it is the fallback.
 */

export interface ChangeNotice {
  /** The stream's folder. */
  scope: SecretScope;
  /** Absent for a resync: everything under `scope` may have changed. */
  change?: { secretPath: string; secretKey: string; action: string };
}

export interface ChangeStreamDeps {
  events: Pick<SecretEventsClient, "open">;
  tokens: Pick<TokenManager, "get" | "invalidate">;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Backoff between reconnects; defaults 1 s doubling to 30 s. */
  reconnect?: { baseDelayMs: number; maxDelayMs: number };
}

/** Does a change in folder `path` concern a template that read `s`? */
export const concerns = (s: SecretScope, projectId: string, environment: string, path: string): boolean =>
  s.projectId === projectId && s.environment === environment && (s.secretPath === path || (s.recursive && (s.secretPath === "/" || path.startsWith(`${s.secretPath}/`))));

const under = (parent: string, child: string) => (parent === "/" ? child !== "/" : child.startsWith(`${parent}/`));
/** A stream for `a` also delivers everything `b` would. */
const covers = (a: SecretScope, b: SecretScope) =>
  a.recursive && a.projectId === b.projectId && a.environment === b.environment && (under(a.secretPath, b.secretPath) || (a.secretPath === b.secretPath && !b.recursive));

interface Stream {
  scope: SecretScope;
  abort: AbortController;
  connected: boolean;
  done: Promise<void>;
}

export const createChangeStreams = (deps: ChangeStreamDeps) => {
  const { clock, logger } = deps;
  const reconnect = deps.reconnect ?? { baseDelayMs: 1_000, maxDelayMs: 30_000 };
  const interest = new Map<string, SecretScope[]>();
  const streams = new Map<string, Stream>();
  const listeners = new Set<(n: ChangeNotice) => void>();
  let stopped = false;

  const notify = (n: ChangeNotice) => {
    for (const l of listeners) l(n);
  };

  const handle = (scope: SecretScope, ev: ServerSentEvent, first: boolean): void => {
    if (ev.event === "change") {
      let c: { secretPath?: unknown; secretKey?: unknown; action?: unknown };
      try {
        c = JSON.parse(ev.data) as typeof c;
      } catch {
        return;
      }
      if (typeof c.secretPath !== "string") return;
      logger.debug("change reported", { folder: c.secretPath, key: c.secretKey, action: c.action });
      notify({ scope, change: { secretPath: c.secretPath, secretKey: String(c.secretKey ?? ""), action: String(c.action ?? "") } });
    } else if (ev.event === "resync" || (ev.event === "ready" && first)) {
      notify({ scope });
    }
  };

  const run = async (s: Stream): Promise<void> => {
    // Not `secretPath`: the logger redacts every field whose name says "secret".
    const label = { projectId: s.scope.projectId, environment: s.scope.environment, folder: s.scope.secretPath, recursive: s.scope.recursive };
    let lastEventId: string | undefined;
    let failures = 0;
    let warned = false;
    let everConnected = false;
    while (!s.abort.signal.aborted) {
      let token: string | undefined;
      try {
        token = await deps.tokens.get(s.abort.signal);
        const it = await deps.events.open(s.scope, { token, lastEventId, signal: s.abort.signal });
        let live = false;
        for await (const ev of it) {
          if (ev.id) lastEventId = ev.id;
          if (ev.event === "ready") {
            s.connected = true;
            live = true;
            failures = 0;
            if (warned || !everConnected) logger.info("change stream connected", label);
            warned = false;
            // Changes made before the first stream opened were not seen by the first render's reads.
            handle(s.scope, ev, !everConnected);
            everConnected = true;
            continue;
          }
          handle(s.scope, ev, false);
        }
        s.connected = false;
        // A stream closed before it was live is a failure (a proxy cutting it, say): back off.
        if (!live) throw new Error("the stream closed before it was ready");
        // The server ends streams now and then (token re-check, shutdown): reconnect at once.
        if (!s.abort.signal.aborted) logger.debug("change stream ended by the server, reconnecting", label);
        continue;
      } catch (err) {
        s.connected = false;
        if (s.abort.signal.aborted) return;
        if ((err as { status?: number }).status === 401 && token) deps.tokens.invalidate(token);
        const delay = backoffDelay(failures++, reconnect, deps.random);
        const fields = { ...label, error: (err as Error).message, retryInMs: Math.round(delay) };
        // One warning per outage: polling covers it, the log need not repeat every second.
        if (!warned) logger.warn("change stream unavailable, polling continues", fields);
        else logger.debug("change stream still unavailable", fields);
        warned = true;
        await clock.sleep(delay, s.abort.signal).catch(() => {});
      }
    }
  };

  /** Streams needed for the union of interests, without those another (recursive) stream covers. */
  const wanted = (): Map<string, SecretScope> => {
    const all = new Map<string, SecretScope>();
    for (const scopes of interest.values()) for (const s of scopes) all.set(scopeKey(s), s);
    const out = new Map<string, SecretScope>();
    for (const [k, s] of all) if (![...all.values()].some((o) => covers(o, s))) out.set(k, s);
    return out;
  };

  const sync = () => {
    if (stopped) return;
    const want = wanted();
    for (const [k, s] of streams) {
      if (want.has(k)) continue;
      s.abort.abort();
      streams.delete(k);
    }
    for (const [k, scope] of want) {
      if (streams.has(k)) continue;
      const s: Stream = { scope, abort: new AbortController(), connected: false, done: Promise.resolve() };
      s.done = run(s);
      streams.set(k, s);
    }
  };

  return {
    /** Replaces what `owner` (a template) reads; streams open and close to match. */
    setInterest: (owner: string, scopes: SecretScope[]) => {
      interest.set(owner, scopes);
      sync();
    },
    dropInterest: (owner: string) => {
      interest.delete(owner);
      sync();
    },
    onNotice: (fn: (n: ChangeNotice) => void) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    status: () => [...streams.values()].map((s) => ({ scope: s.scope, connected: s.connected })),
    stop: async () => {
      stopped = true;
      const all = [...streams.values()];
      streams.clear();
      for (const s of all) s.abort.abort();
      await Promise.all(all.map((s) => s.done));
    },
  };
};
export type ChangeStreams = ReturnType<typeof createChangeStreams>;
