import type { IncomingMessage } from "node:http";
import { apiErrorFor, KmsNetworkError } from "./errors.js";
import { agentsFor, normalizeAddress, timeoutError, type TransportTls } from "./http.js";

/**
 * Client of GET /api/v1/secrets/events (server-sent events, see src/server/routes/secret-events.ts).
 * A connection pool of its own: streams are long-lived and must not take the JSON client's
 * connections. The idle timeout doubles as a liveness check: the server sends a heartbeat every 15 s,
 * so silence for `idleTimeoutMs` means the connection is dead even if TCP has not noticed.
 *
 * On node:http/https, like the JSON client (client/http.ts): the agent then loads no undici, whose
 * WebAssembly HTTP parser costs memory and does not run under `--jitless`.
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
  /** CA to trust and/or client certificate to present, as for the JSON client. */
  tls?: TransportTls;
}

/** Splits an SSE byte stream into events (WHATWG HTML, "Parsing an event stream"). */
export async function* parseEventStream(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<ServerSentEvent> {
  let buf = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  // One decoder for the whole stream: a character whose UTF-8 bytes arrive in two chunks (a secret name
  // such as "PASSWÖRD") is decoded whole instead of as two replacement characters.
  const decoder = new TextDecoder("utf-8");
  for await (const chunk of chunks) {
    buf += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
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

const HEADERS_TIMEOUT_MS = 30_000;

export const createSecretEventsClient = (opts: SecretEventsOptions) => {
  const base = normalizeAddress(opts.address);
  const idle = opts.idleTimeoutMs ?? 45_000;
  // A stream holds its connection for minutes; a finished one is not worth keeping open for long.
  const agents = agentsFor({ keepAlive: true, timeout: 1_000 }, opts.tls);
  const PATH = "/api/v1/secrets/events";

  /** Sends the request; resolves with the response once its headers arrived, with the idle timer running. */
  const send = (url: URL, headers: Record<string, string>, signal: AbortSignal | undefined) =>
    new Promise<{ res: IncomingMessage; touch: () => void; stop: () => void }>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const stop = () => clearTimeout(timer);
      const req = agents.request(url, { method: "GET", headers, signal });
      timer = setTimeout(() => req.destroy(timeoutError("UND_ERR_HEADERS_TIMEOUT", "Headers Timeout Error")), HEADERS_TIMEOUT_MS);
      req.on("error", (err) => { stop(); reject(err); });
      req.on("response", (res) => {
        // The response, not the request, is destroyed: its reader then sees this error rather than "aborted".
        const touch = () => {
          stop();
          timer = setTimeout(() => res.destroy(timeoutError("UND_ERR_BODY_TIMEOUT", "Body Timeout Error")), idle);
        };
        touch();
        res.on("close", stop);
        resolve({ res, touch, stop });
      });
      req.end();
    });

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
    let opened: Awaited<ReturnType<typeof send>>;
    try {
      if (o.signal?.aborted) throw o.signal.reason;
      opened = await send(url, headers, o.signal);
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      throw new KmsNetworkError("GET", PATH, err);
    }
    const { res, touch, stop } = opened;
    if (res.statusCode !== 200) {
      let text = "";
      try {
        for await (const c of res) text += String(c);
      } catch {
        // a broken error body: the status says enough
      } finally {
        stop();
      }
      let e: Record<string, unknown> = {};
      try {
        e = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON: the status says enough
      }
      throw apiErrorFor({
        method: "GET",
        path: PATH,
        status: res.statusCode ?? 0,
        wireName: typeof e.error === "string" ? e.error : undefined,
        serverMessage: typeof e.message === "string" ? e.message : text.slice(0, 200) || "(empty body)",
      });
    }
    // Every chunk re-arms the idle timer; when it fires, the request is destroyed and the iteration throws.
    async function* chunks(): AsyncGenerator<Buffer> {
      for await (const c of res) {
        touch();
        yield c as Buffer;
      }
    }
    return (async function* () {
      try {
        yield* parseEventStream(chunks());
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        throw new KmsNetworkError("GET", PATH, err);
      } finally {
        stop();
        res.destroy();
      }
    })();
  };

  return {
    open,
    close: async () => agents.destroy(),
  };
};
export type SecretEventsClient = ReturnType<typeof createSecretEventsClient>;
