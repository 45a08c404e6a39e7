import type { Clock } from "../../src/core/clock.js";

/**
 * Virtual time for agent tests. `sleep` registers a timer; `advance` and `runUntil` move time forward
 * timer by timer, letting real I/O (files, child processes, local HTTP) settle in between.
 */
export class FakeClock implements Clock {
  t: number;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  readonly sleeps: number[] = [];
  /** How many actors (loops) must be asleep before `runUntil` moves time; 0 = don't wait. */
  sleepers = 0;

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.t = start;
  }

  now = (): number => this.t;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    this.sleeps.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, resolve: () => {} };
      const onAbort = () => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal!.reason);
      };
      timer.resolve = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.timers.push(timer);
    });
  };

  get pending(): number {
    return this.timers.length;
  }

  /** Lets promises and pending I/O callbacks run. */
  settle = async (rounds = 20): Promise<void> => {
    for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
  };

  /** Fires the earliest timer (moving time to it), if any is due by `limit`. */
  private fireNext(limit: number): boolean {
    if (!this.timers.length) return false;
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const next = this.timers[0]!;
    if (next.at > limit) return false;
    this.timers.shift();
    this.t = Math.max(this.t, next.at);
    next.resolve();
    return true;
  }

  advance = async (ms: number): Promise<void> => {
    const target = this.t + ms;
    await this.runUntil(() => false, { maxVirtualMs: ms }).catch((e: Error) => {
      if (!/virtual-time limit/.test(e.message)) throw e;
    });
    this.t = Math.max(this.t, target);
    await this.settle();
  };

  /**
   * Runs virtual time until `done()` holds, waiting real time for I/O when no timer is pending.
   * Fails after `maxVirtualMs` of virtual time or `maxRealMs` of real time.
   */
  runUntil = async (done: () => boolean, opts: { maxVirtualMs?: number; maxRealMs?: number; sleepers?: number } = {}): Promise<void> => {
    const limit = this.t + (opts.maxVirtualMs ?? 365 * 86_400_000);
    const realDeadline = Date.now() + (opts.maxRealMs ?? 20_000);
    const sleepers = opts.sleepers ?? this.sleepers;
    for (;;) {
      await this.settle();
      if (done()) return;
      if (Date.now() > realDeadline) throw new Error("runUntil: real-time limit reached");
      // Time moves only when every actor is asleep; otherwise one of them is doing real work.
      if (this.timers.length < sleepers) {
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      if (!this.fireNext(limit)) {
        if (this.t >= limit || this.timers.length > 0) throw new Error("runUntil: virtual-time limit reached");
        // Nothing scheduled: something real (I/O, a child process) is under way.
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
}

/** A clock whose sleeps return at once but move time forward: for strictly sequential code. */
export const instantClock = (start = Date.UTC(2030, 0, 1)) => {
  const c = {
    t: start,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
};
