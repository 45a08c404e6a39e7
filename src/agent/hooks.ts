import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { Clock } from "../core/clock.js";
import { CONFIG_ENV } from "../config/source.js";
import { REDACTED } from "./log.js";
import type { Logger } from "./log.js";

/**
 * Runs a hook command with `sh -c` in its own process group, so a timeout can kill the whole group
 * (the shell and everything it started). We wait for the shell to exit, not for its pipes to close:
 * a background grandchild holding stdout must not hang the agent (execa does, DESIGN.md).
 */

export interface HookSpec {
  command: string;
  timeoutMs: number;
  env: Record<string, string>;
  /** Label for log lines, e.g. "on-renewal". */
  name: string;
}

export interface HookResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
}

export interface HookDeps {
  clock: Clock;
  logger: Logger;
  /** Time between SIGTERM and SIGKILL for a hook past its timeout. */
  killGraceMs?: number;
  /** How long to keep reading output after the shell exited (background children may still write). */
  drainMs?: number;
  shell?: string;
}

export const runHook = async (spec: HookSpec, deps: HookDeps): Promise<HookResult> => {
  const { clock, logger } = deps;
  const killGraceMs = deps.killGraceMs ?? 2_000;
  const drainMs = deps.drainMs ?? 100;
  const started = clock.now();
  // The agent's own configuration (a client secret in it, maybe) is not the hook's, and a reload
  // script hands its environment on to the application it starts.
  const { [CONFIG_ENV]: _agentConfig, ...inherited } = process.env;
  const child = spawn(deps.shell ?? "/bin/sh", ["-c", spec.command], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...inherited, ...spec.env },
  });
  const pid = child.pid;

  const pipe = (stream: Readable | null, level: "info" | "warn") => {
    if (!stream) return;
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    const redactor = privateKeyRedactor();
    rl.on("line", (line) => {
      const shown = redactor(line);
      if (shown !== undefined) logger[level](`hook ${spec.name}: ${shown}`, { hook: spec.name, stream: level === "info" ? "stdout" : "stderr" });
    });
    rl.on("error", () => {});
    stream.on("error", () => {});
  };
  pipe(child.stdout, "info");
  pipe(child.stderr, "warn");

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (err) => {
      logger.error(`hook ${spec.name}: cannot start: ${err.message}`, { hook: spec.name });
      resolve({ code: null, signal: null });
    });
  });

  const killGroup = (sig: NodeJS.Signals) => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // The group is already gone.
    }
  };

  const timer = new AbortController();
  let timedOut = false;
  const timeout = clock.sleep(spec.timeoutMs, timer.signal).then(
    () => "timeout" as const,
    () => "cancelled" as const,
  );
  const first = await Promise.race([exited, timeout]);
  let result: { code: number | null; signal: NodeJS.Signals | null };
  if (first === "timeout") {
    timedOut = true;
    logger.warn(`hook ${spec.name}: timed out after ${spec.timeoutMs} ms, killing its process group`, { hook: spec.name, pid });
    killGroup("SIGTERM");
    const grace = new AbortController();
    const graceOver = clock.sleep(killGraceMs, grace.signal).then(() => true, () => false);
    const r = await Promise.race([exited, graceOver]);
    if (r === true) {
      killGroup("SIGKILL");
      result = await exited;
    } else {
      grace.abort();
      result = r as { code: number | null; signal: NodeJS.Signals | null };
      // The shell left on SIGTERM; children that ignore it are killed anyway.
      killGroup("SIGKILL");
    }
  } else if (first === "cancelled") {
    result = await exited; // unreachable: only we cancel the timer, after the race
  } else {
    timer.abort();
    result = first;
  }
  await timeout;

  // Give buffered output a moment to arrive, then stop reading: a background child that keeps the
  // pipe open must not keep us here.
  await clock.sleep(drainMs).catch(() => {});
  child.stdout?.destroy();
  child.stderr?.destroy();

  const durationMs = clock.now() - started;
  if (!timedOut) {
    if (result.code === 0) logger.info(`hook ${spec.name}: done`, { hook: spec.name, durationMs });
    else logger.warn(`hook ${spec.name}: failed`, { hook: spec.name, exitCode: result.code, signal: result.signal ?? undefined, durationMs });
  }
  return { exitCode: result.code, signal: result.signal, timedOut, durationMs };
};

const PEM_KEY_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const PEM_KEY_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Hook output is logged line by line, so the logger's own redaction sees a PEM key one line at a time and
 * would let its base64 body through (a hook that runs `cat "$CERT_KEY_FILE_PATH"`). This one keeps state
 * per stream: from a BEGIN … PRIVATE KEY line up to its END line, every label (PKCS#8, RSA, EC, ENCRYPTED,
 * OPENSSH), the block becomes one `[REDACTED]`. Returns what to log for a line, or undefined for nothing.
 */
export const privateKeyRedactor = () => {
  let inside = false;
  return (line: string): string | undefined => {
    if (inside) {
      const end = PEM_KEY_END.exec(line);
      if (!end) return undefined;
      inside = false;
      const rest = line.slice(end.index + end[0].length);
      return rest.trim() === "" ? undefined : rest;
    }
    const begin = PEM_KEY_BEGIN.exec(line);
    if (!begin) return line;
    const before = line.slice(0, begin.index);
    const after = line.slice(begin.index + begin[0].length);
    const end = PEM_KEY_END.exec(after);
    if (end) return `${before}${REDACTED}${after.slice(end.index + end[0].length)}`;
    inside = true;
    return `${before}${REDACTED}`;
  };
};
