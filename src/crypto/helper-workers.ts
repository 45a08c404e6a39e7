import { Worker } from "node:worker_threads";

/**
 * The worker threads that take crypto work off the event loop (verify-pool.ts, key-pool.ts) start the same
 * way: from CommonJS text, on first use, unreferenced so an idle one never keeps the process alive, and a
 * nice step below the event loop like the server's other helper threads (server/thread-priority.ts).
 */

let nice = 0;

/** Workers started from now on lower their priority by `n` (the server passes its KMS_HELPER_THREAD_NICE). */
export const setHelperWorkerNice = (n: number) => { nice = Number.isInteger(n) && n > 0 ? Math.min(n, 19) : 0; };

/**
 * Starts `source`, CommonJS for `eval: true` so that it runs in the bundle and from source alike. It lowers
 * its own priority first (Linux schedules threads one by one) and finds its other inputs in `workerData`.
 * The listeners are attached before the worker is unreferenced: attaching a message listener references it
 * again, and an idle helper must never keep the process alive. `gone` runs once if the worker fails or exits.
 */
export const startHelperWorker = (
  source: string,
  on: { message(m: unknown): void; gone(e: Error): void },
  data: Record<string, unknown> = {},
): Worker => {
  const preamble = `try { const n = require("node:worker_threads").workerData.nice; if (n > 0) require("node:os").setPriority(0, n); } catch {}\n`;
  // execArgv: [] so that flags such as --input-type=module never change how this CommonJS text is read.
  const worker = new Worker(preamble + source, { eval: true, execArgv: [], workerData: { ...data, nice } });
  let ended = false;
  const gone = (e: Error) => {
    if (ended) return;
    ended = true;
    on.gone(e);
  };
  worker.on("message", on.message);
  worker.on("error", gone);
  worker.on("exit", (code) => gone(new Error(`helper worker exited (${code})`)));
  worker.unref();
  return worker;
};
