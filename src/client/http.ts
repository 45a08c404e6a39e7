import { Agent as HttpAgent, request as httpRequest } from "node:http";
import type { AgentOptions as HttpAgentOptions, IncomingMessage, RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { z } from "zod";
import { apiErrorFor, KmsNetworkError, KmsResponseError } from "./errors.js";

/**
 * The transport under the typed client: JSON in, JSON out, one keep-alive connection pool per client,
 * errors mapped to typed classes. No retries here: retry policy belongs to the caller (agent/retry.ts).
 *
 * Built on node:http/https rather than the undici package: an agent loads this on every machine, and
 * undici cost it about 10 MB of resident memory (docs/cert-agent.md, "Resource use"). The timeouts keep
 * undici's semantics and error codes: connecting (10 s), the response headers and each pause in the body.
 */

/** TLS settings for an https address: the CA bundle to trust instead of the system store, and a client certificate (mTLS). */
export interface TransportTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface HttpOptions {
  /** Base address, e.g. `https://kms.example.com`; a trailing `/api` or slash is tolerated. */
  address: string;
  /** Per-request timeout for headers and body; default 30 s. */
  timeoutMs?: number;
  /** CA to trust and/or client certificate to present (mTLS). */
  tls?: TransportTls;
  userAgent?: string;
  /** Wall clock for HTTP-date Retry-After headers. */
  now?: () => number;
  /** Told of every exchange (for debug logs): method, path without query, status or network error, duration. */
  onExchange?: (e: ExchangeInfo) => void;
}

export interface ExchangeInfo {
  method: string;
  path: string;
  status?: number;
  error?: string;
  durationMs: number;
}

export interface CallOptions {
  token?: string;
  signal?: AbortSignal;
}

export interface RequestSpec<S extends z.ZodType> extends CallOptions {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  schema: S;
}

export interface HttpResult<T> {
  body: T;
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

export const normalizeAddress = (address: string): string => {
  let a = address.trim().replace(/\/+$/, "");
  if (a.endsWith("/api")) a = a.slice(0, -4);
  return a;
};

export const parseRetryAfter = (value: string | string[] | undefined, now: number): number | undefined => {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
};

export interface HttpTransport {
  call<S extends z.ZodType>(spec: RequestSpec<S>): Promise<HttpResult<z.output<S>>>;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 30_000;

/** A timeout error with undici's code and message, so logs and callers read as they did. */
export const timeoutError = (code: string, message: string) => Object.assign(new Error(message), { name: "TimeoutError", code });

/** Sends a request through one keep-alive agent per scheme, each made on first use (https with `tls`). */
export const agentsFor = (options: HttpAgentOptions, tls?: TransportTls) => {
  let httpAgent: HttpAgent | undefined;
  let httpsAgent: HttpsAgent | undefined;
  return {
    request: (url: URL, o: Omit<RequestOptions, "agent">) =>
      url.protocol === "https:"
        ? httpsRequest(url, { ...o, agent: (httpsAgent ??= new HttpsAgent({ ...options, ...tls })) })
        : httpRequest(url, { ...o, agent: (httpAgent ??= new HttpAgent(options)) }),
    destroy: () => {
      httpAgent?.destroy();
      httpsAgent?.destroy();
    },
  };
};

interface RawResponse {
  statusCode: number;
  headers: IncomingMessage["headers"];
  text: string;
}

export const createHttpTransport = (opts: HttpOptions): HttpTransport => {
  const base = normalizeAddress(opts.address);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // Idle keep-alive connections close after 30 s (the agent's `timeout` applies to free sockets), or
  // sooner when the server's Keep-Alive header says so.
  const agents = agentsFor({ keepAlive: true, maxSockets: 16, timeout: KEEP_ALIVE_MS, scheduling: "lifo" }, opts.tls);
  const now = opts.now ?? (() => Date.now());

  /** One exchange. Rejects with the transport's error; the caller maps it. */
  const exchange = (url: URL, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal | undefined) =>
    new Promise<RawResponse>((resolve, reject) => {
      const https = url.protocol === "https:";
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const arm = (ms: number, code: string, message: string) => {
        clearTimeout(timer);
        timer = setTimeout(() => req.destroy(timeoutError(code, message)), ms);
      };
      const finish = (err: Error | undefined, value?: RawResponse) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value!);
      };
      const req = agents.request(url, { method, headers, signal });
      arm(timeoutMs, "UND_ERR_HEADERS_TIMEOUT", "Headers Timeout Error");
      req.on("socket", (socket) => {
        if (!socket.connecting) return;
        const connectTimer = setTimeout(() => req.destroy(timeoutError("UND_ERR_CONNECT_TIMEOUT", "Connect Timeout Error")), CONNECT_TIMEOUT_MS);
        socket.once(https ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
        socket.once("close", () => clearTimeout(connectTimer));
      });
      req.on("error", (err) => finish(err));
      req.on("response", (res) => {
        arm(timeoutMs, "UND_ERR_BODY_TIMEOUT", "Body Timeout Error");
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => {
          chunks.push(c);
          arm(timeoutMs, "UND_ERR_BODY_TIMEOUT", "Body Timeout Error");
        });
        res.on("error", (err) => finish(err));
        // Closed before the end of the body without an error event: the connection broke.
        res.on("close", () => finish(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })));
        res.on("end", () => finish(undefined, { statusCode: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      });
      req.end(body);
    });

  const call = async <S extends z.ZodType>(spec: RequestSpec<S>): Promise<HttpResult<z.output<S>>> => {
    const url = new URL(base + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: "application/json" };
    if (opts.userAgent) headers["user-agent"] = opts.userAgent;
    if (spec.token) headers.authorization = `Bearer ${spec.token}`;
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    let res: RawResponse;
    const started = now();
    try {
      if (spec.signal?.aborted) throw spec.signal.reason;
      res = await exchange(url, spec.method, headers, body, spec.signal);
    } catch (err) {
      if (spec.signal?.aborted) throw spec.signal.reason;
      const e = new KmsNetworkError(spec.method, spec.path, err);
      opts.onExchange?.({ method: spec.method, path: spec.path, error: e.message, durationMs: now() - started });
      throw e;
    }
    opts.onExchange?.({ method: spec.method, path: spec.path, status: res.statusCode, durationMs: now() - started });
    const { text } = res;
    const json = parseJson(text);
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const e = (json.ok && json.value && typeof json.value === "object" ? json.value : {}) as Record<string, unknown>;
      const message = e.message;
      throw apiErrorFor({
        method: spec.method,
        path: spec.path,
        status: res.statusCode,
        wireName: typeof e.error === "string" ? e.error : undefined,
        serverMessage: typeof message === "string" ? message : message !== undefined ? JSON.stringify(message) : text.slice(0, 200) || "(empty body)",
        reqId: typeof e.reqId === "string" ? e.reqId : undefined,
        details: e.details,
        retryAfterMs: parseRetryAfter(res.headers["retry-after"], now()),
      });
    }
    if (!json.ok) throw new KmsResponseError(spec.method, spec.path, "body is not JSON");
    const parsed = spec.schema.safeParse(json.value);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new KmsResponseError(spec.method, spec.path, `${first?.path.join(".") || "body"}: ${first?.message ?? "invalid"}`);
    }
    return { body: parsed.data, status: res.statusCode, headers: res.headers };
  };

  return {
    call,
    close: async () => agents.destroy(),
  };
};

const parseJson = (text: string): { ok: true; value: unknown } | { ok: false } => {
  if (text === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};
