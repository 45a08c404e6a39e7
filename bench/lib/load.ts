/**
 * A closed-loop HTTP load generator: N clients, each with its own keep-alive connection, send a request,
 * wait for the whole answer, and send the next one, until the time is up. The same generator drives every
 * peer in a benchmark, so ratios compare servers, not clients. A naive fetch loop measures the client
 * (DESIGN.md): undici's Pool with one connection per client and no pipelining keeps the client cheap.
 */
import { Pool } from "undici";
import type { Dispatcher } from "undici";

export interface LoadOptions {
  /** Full URL of the endpoint, e.g. `http://127.0.0.1:8080/api/v1/cfssl/sign`. */
  url: string;
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  /** A fixed body, or a function giving each request its own (called on the client's turn). */
  body?: string | Buffer | ((n: number) => string | Buffer);
  /** Concurrent clients (each one connection). Default 16. */
  concurrency?: number;
  /** Measured time. Default 10 s. */
  durationMs?: number;
  /** Unmeasured run-in before the clock starts (JIT, connection set-up, caches). Default 1 s. */
  warmupMs?: number;
  /** Status counted as success. Default 200. */
  expectStatus?: number;
  /** Called with every successful body (during measurement too), e.g. to check or count what came back. */
  onBody?: (body: Buffer) => void;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  /** Successful requests completed during the measured window. */
  ok: number;
  /** Failed requests (wrong status or network error) during the measured window. */
  errors: number;
  durationMs: number;
  /** Successful requests per second. */
  rate: number;
  /** Milliseconds, successful requests only. */
  latency: LatencySummary;
  statuses: Record<number, number>;
  /** The first failure, with up to 300 characters of its body, to say why. */
  firstError?: string;
  /** Bytes of the last successful response body. */
  responseBytes: number;
}

export const summarize = (samples: number[]): LatencySummary => {
  if (samples.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const s = Float64Array.from(samples).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]!, mean: sum / s.length };
};

export const runLoad = async (o: LoadOptions): Promise<LoadResult> => {
  const url = new URL(o.url);
  const concurrency = o.concurrency ?? 16;
  const durationMs = o.durationMs ?? 10_000;
  const warmupMs = o.warmupMs ?? 1_000;
  const expect = o.expectStatus ?? 200;
  const method = o.method ?? (o.body === undefined ? "GET" : "POST");
  const pool = new Pool(url.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const path = url.pathname + url.search;
  const headers = { ...(o.body !== undefined && { "content-type": "application/json" }), ...o.headers };

  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  let responseBytes = 0;
  let n = 0;
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const stopAt = measureFrom + durationMs;

  const client = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= stopAt) return;
      const body = typeof o.body === "function" ? o.body(n++) : o.body;
      let status = 0;
      let text: Buffer | undefined;
      let failure: string | undefined;
      try {
        const res = await pool.request({ method, path, headers, body });
        status = res.statusCode;
        text = Buffer.from(await res.body.arrayBuffer());
      } catch (e) {
        failure = (e as Error).message;
      }
      const t1 = performance.now();
      // Throughput is completions inside the window, whenever they started: slow requests (RSA key generation,
      // seconds each) that straddle the window's start would otherwise be lost and the rate understated.
      const measured = t1 >= measureFrom && t1 <= stopAt;
      if (status === expect && text) {
        o.onBody?.(text);
        responseBytes = text.length;
        if (measured) { ok++; latencies.push(t1 - t0); }
      } else {
        if (measured) errors++;
        firstError ??= failure ?? `HTTP ${status}: ${text?.toString("utf8").slice(0, 300)}`;
        // A dead server must not spin the loop at full speed.
        if (!status) await new Promise((r) => setTimeout(r, 50));
      }
      if (measured && status) statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  await pool.close();
  return { ok, errors, durationMs, rate: ok / (durationMs / 1000), latency: summarize(latencies), statuses, firstError, responseBytes };
};

export const formatResult = (r: LoadResult): string =>
  `${r.rate.toFixed(0).padStart(6)}/s  ok ${r.ok}, errors ${r.errors}  latency ms p50 ${r.latency.p50.toFixed(1)} p90 ${r.latency.p90.toFixed(1)} ` +
  `p99 ${r.latency.p99.toFixed(1)} max ${r.latency.max.toFixed(1)}  body ${r.responseBytes} B${r.firstError ? `  first error: ${r.firstError}` : ""}`;
