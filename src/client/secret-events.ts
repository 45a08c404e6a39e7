import { Agent, request } from "undici";
import type { Dispatcher } from "undici";
import { apiErrorFor, KmsNetworkError } from "./errors.js";
import { normalizeAddress } from "./http.js";

/**
 * Client of GET /api/v1/secrets/events (server-sent events, see src/server/routes/secret-events.ts).
 * A connection pool of its own: streams are long-lived and must not take the JSON client's
 * connections. The body timeout doubles as a liveness check: the server sends a heartbeat every 15 s,
 * so silence for `idleTimeoutMs` means the connection is dead even if TCP has not noticed.
 */

export interface SecretEventsQuery {
  projectId: string;
  environment: string;
  secretPath: string;
  recursive: boolean;
}

export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

export interface SecretEventsOptions {
  address: string;
  userAgent?: string;
  /** No byte for this long ends the stream with an error; default 45 s (three missed heartbeats). */
  idleTimeoutMs?: number;
  dispatcher?: Dispatcher;
}

/** Splits an SSE byte stream into events (WHATWG HTML, "Parsing an event stream"). */
export async function* parseEventStream(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<ServerSentEvent> {
  let buf = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  for await (const chunk of chunks) {
    buf += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    let nl: number;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      // A CR at the end of a chunk may be the first half of a CRLF: wait for the next chunk.
      if (buf[nl] === "\r" && nl === buf.length - 1) break;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (data.length > 0 || event !== "") yield { event: event || "message", data: data.join("\n"), ...(id !== undefined && { id }) };
        event = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id" && !value.includes("\0")) id = value;
    }
  }
}

export const createSecretEventsClient = (opts: SecretEventsOptions) => {
  const base = normalizeAddress(opts.address);
  const idle = opts.idleTimeoutMs ?? 45_000;
  const own = opts.dispatcher ? undefined : new Agent({ headersTimeout: 30_000, bodyTimeout: idle, keepAliveTimeout: 1_000 });
  const dispatcher = opts.dispatcher ?? own!;
  const PATH = "/api/v1/secrets/events";

  /**
   * Opens one stream. Resolves once the server accepted it (HTTP 200); the events then arrive through
   * the iterator, which ends when the server closes the stream and throws when the connection breaks.
   * Refusals (401, 403, 404, ...) throw the client's typed API errors.
   */
  const open = async (q: SecretEventsQuery, o: { token: string; lastEventId?: string; signal?: AbortSignal }): Promise<AsyncGenerator<ServerSentEvent>> => {
    const url = new URL(base + PATH);
    url.searchParams.set("projectId", q.projectId);
    url.searchParams.set("environment", q.environment);
    url.searchParams.set("secretPath", q.secretPath);
    url.searchParams.set("recursive", String(q.recursive));
    const headers: Record<string, string> = { accept: "text/event-stream", authorization: `Bearer ${o.token}` };
    if (opts.userAgent) headers["user-agent"] = opts.userAgent;
    if (o.lastEventId) headers["last-event-id"] = o.lastEventId;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method: "GET", headers, dispatcher, signal: o.signal, bodyTimeout: idle });
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      throw new KmsNetworkError("GET", PATH, err);
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => "");
      let e: Record<string, unknown> = {};
      try {
        e = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON: the status says enough
      }
      throw apiErrorFor({
        method: "GET",
        path: PATH,
        status: res.statusCode,
        wireName: typeof e.error === "string" ? e.error : undefined,
        serverMessage: typeof e.message === "string" ? e.message : text.slice(0, 200) || "(empty body)",
      });
    }
    const body = res.body;
    return (async function* () {
      try {
        yield* parseEventStream(body);
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        throw new KmsNetworkError("GET", PATH, err);
      } finally {
        body.destroy();
      }
    })();
  };

  return { open, close: async () => own?.close() };
};
export type SecretEventsClient = ReturnType<typeof createSecretEventsClient>;
