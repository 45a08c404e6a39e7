import { Agent, request } from "undici";
import type { Dispatcher } from "undici";
import type { z } from "zod";
import { apiErrorFor, KmsNetworkError, KmsResponseError } from "./errors.js";

/**
 * The transport under the typed client: JSON in, JSON out, one keep-alive connection pool per client,
 * errors mapped to typed classes. No retries here: retry policy belongs to the caller (agent/retry.ts).
 */

export interface HttpOptions {
  /** Base address, e.g. `https://kms.example.com`; a trailing `/api` or slash is tolerated. */
  address: string;
  /** Per-request timeout for headers and body; default 30 s. */
  timeoutMs?: number;
  /** An undici dispatcher to use instead of our own pool (mTLS, tests). */
  dispatcher?: Dispatcher;
  userAgent?: string;
  /** Wall clock for HTTP-date Retry-After headers. */
  now?: () => number;
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

export const createHttpTransport = (opts: HttpOptions): HttpTransport => {
  const base = normalizeAddress(opts.address);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const ownAgent = opts.dispatcher ? undefined : new Agent({ keepAliveTimeout: 30_000, connections: 16, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const dispatcher = opts.dispatcher ?? ownAgent!;
  const now = opts.now ?? (() => Date.now());

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
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method: spec.method, headers, body, dispatcher, signal: spec.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    } catch (err) {
      if (spec.signal?.aborted) throw spec.signal.reason;
      throw new KmsNetworkError(spec.method, spec.path, err);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      if (spec.signal?.aborted) throw spec.signal.reason;
      throw new KmsNetworkError(spec.method, spec.path, err);
    }
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
    close: async () => {
      await ownAgent?.close();
    },
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
