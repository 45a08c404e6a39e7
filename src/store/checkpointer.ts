import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * SQLite WAL checkpoints off the event loop. By default SQLite checkpoints inside whichever COMMIT pushes the
 * WAL past 1,000 pages: it copies those pages into the database file and fsyncs it, on the thread that
 * committed, which for us is the event loop (measured: ~90 µs per issuance on average under load, arriving
 * as stalls of several milliseconds). Here a worker thread with its own connection runs PASSIVE checkpoints,
 * which never block writers.
 *
 * Under continuous writes a checkpoint from another thread never quite reaches the last frame, and SQLite
 * restarts the WAL only once every frame is back in the database. So when the worker is left with only a
 * few hundred frames (an eighth of the WAL under heavy writes), it hands over: the main connection copies
 * those (a short pause) and its next commit restarts the WAL; then the worker carries on. Durability is
 * unchanged (synchronous=NORMAL).
 */

// Plain CommonJS for `eval: true`: nothing but better-sqlite3, loaded from the path the main thread resolved.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 1000");
let stopping = false;
let timer;
const checkpoint = (mode) => {
  try { return db.pragma("wal_checkpoint(" + mode + ")")[0]; }
  catch (e) { parentPort.postMessage({ error: String((e && e.message) || e) }); return undefined; }
};
const pass = () => {
  if (stopping) return;
  const r = checkpoint("PASSIVE");
  const left = r ? r.log - r.checkpointed : 0;
  // Nearly caught up on a WAL worth restarting: the main connection finishes it, then says "resume". Under
  // heavy writes a pass never gets below a few hundred frames, so "nearly" grows with the WAL (an eighth).
  const nearly = Math.max(workerData.handOverFrames, Math.floor((r ? r.log : 0) / 8));
  if (r && !r.busy && r.log >= workerData.restartFrames && left <= nearly) return parentPort.postMessage({ catchUp: true });
  timer = setTimeout(pass, left > workerData.handOverFrames ? 0 : workerData.intervalMs);
};
parentPort.on("message", (m) => {
  if (m === "resume") { timer = setTimeout(pass, workerData.intervalMs); return; }
  stopping = true;
  clearTimeout(timer);
  checkpoint("TRUNCATE");
  db.close();
  parentPort.postMessage({ stopped: true });
});
pass();
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  /** Pause between passes when there is little to do. */
  intervalMs?: number;
  /** WAL size (frames) above which a full catch-up and WAL restart are worth it. */
  restartFrames?: number;
  /** Frames left for the main connection to copy when it takes over (at least; an eighth of a big WAL). */
  handOverFrames?: number;
}

/**
 * Starts checkpointing `file`; returns undefined when better-sqlite3 cannot be loaded in a worker (a bundle
 * without node_modules): the caller then keeps SQLite's own checkpoints.
 */
export const startCheckpointer = (
  file: string, main: { pragma(sql: string): unknown; open: boolean }, onError: (message: string) => void, o: CheckpointerOptions = {},
): Checkpointer | undefined => {
  let module: string;
  try {
    module = createRequire(import.meta.url).resolve("better-sqlite3");
  } catch {
    return undefined;
  }
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { file, module, intervalMs: o.intervalMs ?? 100, restartFrames: o.restartFrames ?? 4_000, handOverFrames: o.handOverFrames ?? 500 },
  });
  // The worker must not keep a finished process alive; stop() waits for it explicitly.
  worker.unref();
  let stopped: (() => void) | undefined;
  let exited = false;
  worker.once("exit", () => { exited = true; });
  worker.on("message", (m: { error?: string; stopped?: boolean; catchUp?: boolean }) => {
    if (m.error) onError(m.error);
    if (m.stopped) stopped?.();
    if (m.catchUp) {
      try {
        if (main.open) main.pragma("wal_checkpoint(PASSIVE)");
      } catch {
        // A transaction of ours may be open between its statements: the worker hands over again later.
      }
      worker.postMessage("resume");
    }
  });
  worker.on("error", (e) => onError(e.message));
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 5_000);
        stopped = () => { clearTimeout(timer); void worker.terminate().then(() => resolve()); };
        worker.once("exit", () => { clearTimeout(timer); resolve(); });
        worker.postMessage("stop");
      }),
  };
};
