import type { Clock } from "../../core/clock.js";
import type { Logger } from "../log.js";
import { backoffDelay } from "../retry.js";
import type { Sink } from "../sinks/sink.js";

/**
 * What every sink needs beyond writing one value (Vault agent's sink server): only the latest token is
 * written (a token superseded while a write was failing is never written), a failed write keeps the old
 * file and is retried with backoff, and one sink failing never holds up another.
 */

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

export interface SinkSetDeps {
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

export const createSinkSet = (sinks: Sink[], deps: SinkSetDeps) => {
  const writers = sinks.map((sink) => {
    let latest: string | undefined;
    let written: string | undefined;
    let running: Promise<void> | undefined;
    let stop = new AbortController();
    let lastError: Error | undefined;

    const loop = async () => {
      let failures = 0;
      while (latest !== undefined && latest !== written && !stop.signal.aborted) {
        const t = latest;
        try {
          await sink.write(t);
          written = t;
          lastError = undefined;
          failures = 0;
          deps.logger.info(t === "" ? "sink emptied" : "token written to sink", { sink: sink.name });
        } catch (err) {
          lastError = err as Error;
          const delay = backoffDelay(failures++, { baseDelayMs: RETRY_BASE_MS, maxDelayMs: RETRY_MAX_MS }, deps.random);
          deps.logger.error("cannot write the token to the sink; the previous one stays", { sink: sink.name, error: lastError.message, retryInMs: Math.round(delay) });
          await deps.clock.sleep(delay, stop.signal).catch(() => {});
        }
      }
    };

    const start = () => {
      if (running) return;
      running = loop().finally(() => {
        running = undefined;
        // A token delivered while the loop was on its way out still gets written.
        if (latest !== undefined && latest !== written && !stop.signal.aborted) start();
      });
    };

    return {
      sink,
      deliver(token: string) {
        latest = token;
        start();
      },
      /** Waits until the latest token is written or `timeoutMs` passes. */
      async settle(timeoutMs: number): Promise<{ ok: boolean; error?: Error }> {
        const t = new AbortController();
        const timeout = deps.clock.sleep(timeoutMs, t.signal).then(() => true, () => true);
        let timedOut = false;
        while (running && !timedOut) timedOut = await Promise.race([running.then(() => false), timeout]);
        t.abort();
        return latest === written ? { ok: true } : { ok: false, error: lastError };
      },
      /** Stops retrying (shutdown); a write in progress finishes. */
      async halt() {
        stop.abort();
        await running;
        stop = new AbortController();
      },
    };
  });

  return {
    /** Hands a new token to every sink. */
    deliver: (token: string) => writers.forEach((w) => w.deliver(token)),
    settle: (timeoutMs: number) => Promise.all(writers.map(async (w) => ({ sink: w.sink.name, ...(await w.settle(timeoutMs)) }))),
    halt: () => Promise.all(writers.map((w) => w.halt())).then(() => undefined),
    size: sinks.length,
  };
};
export type SinkSet = ReturnType<typeof createSinkSet>;
