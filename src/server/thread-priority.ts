import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/**
 * The event loop first. Every other thread of this process (libuv's pool, where RSA keys are generated and
 * signatures made; V8's GC helpers; the WAL checkpointer) runs `nice` steps below it, so on a busy machine
 * the scheduler hands a waking event loop the CPU at once and a health check or a token renewal is answered
 * in milliseconds while every pool thread grinds through RSA key generation. Throughput does not suffer:
 * the pool still gets every cycle the event loop does not want.
 *
 * Measured with 16 clients generating RSA-2048 keys on 2 cores: /api/status max 43 ms without, 25 ms with.
 * The price, on a host shared with other busy processes, is that those win the helpers' cycles: hence a
 * moderate default and KMS_HELPER_THREAD_NICE to change it (0 turns it off).
 *
 * Linux only (there each thread is a task whose priority can be lowered without privileges); elsewhere, or
 * without /proc, nothing changes. Returns the number of threads lowered.
 */
export const lowerHelperThreadPriority = async (nice = 5): Promise<number> => {
  if (process.platform !== "linux") return 0;
  // libuv starts its pool with the first job: make sure those threads exist before looking for them.
  await new Promise((resolve) => randomBytes(1, resolve));
  let lowered = 0;
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return 0;
  }
  for (const tid of tids.map(Number)) {
    if (tid === process.pid) continue;
    try {
      if (getPriority(tid) < nice) setPriority(tid, nice);
      lowered++;
    } catch {
      // The thread ended meanwhile, or the system refuses: leave it.
    }
  }
  return lowered;
};
