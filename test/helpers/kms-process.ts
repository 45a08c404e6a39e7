import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { KMS_BIN, REPO } from "./server.js";

export interface KmsProcess {
  proc: ChildProcess;
  output(): string;
  /** Resolves when the output matches (searching what was printed so far, then what comes). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `kms ARGS…` as a user would (bin/kms.js), collecting everything it prints, Node's warnings included
 * (the test runner turns them off for itself: scripts/test.mjs): a warning a user would see is a finding.
 */
export const spawnKms = (args: string[], env: Record<string, string> = {}, defaultTimeoutMs = 30_000, nodeFlags: string[] = []): KmsProcess => {
  const proc = spawn(process.execPath, [...nodeFlags, KMS_BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, NODE_NO_WARNINGS: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once("exit", (code, signal) => r({ code, signal })));
  return {
    proc,
    output: () => out,
    exited,
    waitFor: (re, timeoutMs = defaultTimeoutMs) =>
      new Promise((resolvePromise, reject) => {
        const m = re.exec(out);
        if (m) return resolvePromise(m);
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out}`)), timeoutMs);
        waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolvePromise(x)) });
        void exited.then(() => setTimeout(() => reject(new Error(`kms exited while waiting for ${re}; output:\n${out}`)), 100));
      }),
    stop: async (signal = "SIGTERM") => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
};
