import { chmod, readFile, stat } from "node:fs/promises";
import type { Clock } from "../../core/clock.js";
import { writeFileAtomic } from "../files.js";
import { runHook } from "../hooks.js";
import type { HookResult, HookSpec } from "../hooks.js";
import type { Logger } from "../log.js";
import { backoffDelay } from "../retry.js";
import { DEFAULT_EXECUTE_TIMEOUT_MS } from "./config.js";
import type { TemplateEntry } from "./config.js";
import { newRenderContext } from "./functions.js";
import type { SecretScope } from "./functions.js";
import { redactError } from "./redact.js";
import { createRenderer } from "./render.js";
import type { RendererOptions } from "./render.js";
import type { SecretSource } from "./source.js";
import type { LeaseManager } from "./leases.js";

/**
 * One template's life: render at start, then at every polling interval and whenever something it reads
 * changes (a change-stream notice, a rotated lease). The output is compared byte for byte with what is
 * on disk: only a different output is written (atomically, with the configured permission) and only
 * then does the command run. Upstream compares one ETag per template, so a change behind any but the
 * last function call was missed (DESIGN.md); comparing the output sees them all.
 *
 * The command does not run when the first render creates the file (the application is not reading it
 * yet; upstream skips the first render too), but does when it replaces a different file left by an
 * earlier run: the application is then reading stale values.
 *
 * A failed render (template error, KMS unreachable) is logged with the template's name, line and column,
 * and the previous file stays as it is; the loop retries with backoff, never faster than it polls.
 */

export interface TemplateLoopDeps {
  entry: TemplateEntry;
  index: number;
  source: SecretSource;
  clock: Clock;
  logger: Logger;
  renderer?: RendererOptions;
  /** Dynamic-secret leases; the template is their owner `templates[<index>]`. */
  leases?: Pick<LeaseManager, "acquire">;
  /** Told, after every render, which folders the template read (change-stream subscriptions). */
  onReads?: (scopes: SecretScope[]) => void;
  runHook?: (spec: HookSpec, deps: Parameters<typeof runHook>[1]) => Promise<HookResult>;
  hookKillGraceMs?: number;
  random?: () => number;
  /** Coalescing window after a kick, so a burst of changes gives one render. */
  debounceMs?: number;
}

export type RenderOutcome =
  | { ok: true; changed: boolean; commandRan: boolean; commandOk?: boolean }
  | { ok: false; error: Error };

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** `template: NAME:LINE[:COL]:` → fields for the log line (Go puts no column on parse errors). */
export const errorLocation = (message: string): { template?: string; line?: number; column?: number } => {
  const m = /^template: (.+?):(\d+)(?::(\d+))?:/.exec(message);
  if (!m) return {};
  return { template: m[1], line: Number(m[2]), ...(m[3] !== undefined && { column: Number(m[3]) }) };
};

export const createTemplateLoop = (deps: TemplateLoopDeps) => {
  const { entry, clock } = deps;
  const destination = entry["destination-path"];
  const renderer = createRenderer(entry, deps.renderer);
  const logger = deps.logger.child({ entry: `templates[${deps.index}]`, destination });
  const hook = deps.runHook ?? runHook;
  const poll = entry.config["polling-interval"];
  let onDisk: Buffer | undefined;
  let firstRender = true;
  let reads: SecretScope[] = [];
  let rendered = false;
  let kicked = false;
  let wake: (() => void) | undefined;
  let heldLease = false;
  let waiters: ((o: RenderOutcome) => void)[] = [];
  const owner = `templates[${deps.index}]`;

  const ensureMode = async () => {
    const st = await stat(destination).catch(() => undefined);
    if (st && (st.mode & 0o7777) !== entry.permission) await chmod(destination, entry.permission);
  };

  const runCommand = async (): Promise<boolean> => {
    const command = entry.config.execute?.command;
    if (!command) return true;
    logger.info("output changed, running the command", { command });
    const r = await hook(
      {
        command,
        timeoutMs: entry.config.execute?.timeout ?? DEFAULT_EXECUTE_TIMEOUT_MS,
        name: `templates[${deps.index}]`,
        env: { KMS_TEMPLATE_DESTINATION: destination, KMS_TEMPLATE_NAME: renderer.name, KMS_TEMPLATE_INDEX: String(deps.index) },
      },
      { clock, logger, killGraceMs: deps.hookKillGraceMs },
    );
    return r.exitCode === 0 && !r.timedOut;
  };

  /** Renders once; writes and runs the command only when the output differs from the file. */
  const renderOnce = async (signal?: AbortSignal): Promise<RenderOutcome> => {
    const ctx = newRenderContext(deps.source, signal, { leases: deps.leases, owner });
    let output: string;
    try {
      output = await renderer.render(ctx);
    } catch (err) {
      if (signal?.aborted) throw err;
      // Keep watching what it did read: the fix may well be a secret that appears there.
      if (ctx.reads.size > 0) reads = mergeReads(reads, [...ctx.reads.values()]);
      deps.onReads?.(reads);
      const e = redactError(err as Error, ctx.fetched);
      logger.error(`template ${renderer.name} failed to render; the previous output stays`, { ...errorLocation(e.message), error: e.message });
      return { ok: false, error: e };
    }
    reads = [...ctx.reads.values()];
    deps.onReads?.(reads);
    if (ctx.usedLeases.size > 0) heldLease = true;
    const bytes = Buffer.from(output, "utf8");
    const wasFirst = firstRender;
    firstRender = false;
    if (wasFirst) onDisk = await readFile(destination).catch(() => undefined);
    if (onDisk?.equals(bytes)) {
      await ensureMode().catch((e: Error) => logger.warn("cannot correct the file's permission", { error: e.message }));
      rendered = true;
      return { ok: true, changed: false, commandRan: false };
    }
    const existed = onDisk !== undefined;
    try {
      await writeFileAtomic(destination, bytes, { mode: entry.permission });
    } catch (err) {
      const e = err as Error;
      logger.error("cannot write the rendered output; the previous file stays", { error: e.message });
      return { ok: false, error: e };
    }
    onDisk = bytes;
    rendered = true;
    logger.info(existed ? "output changed, file updated" : "file created", { bytes: bytes.length });
    if (wasFirst && !existed) return { ok: true, changed: true, commandRan: false };
    const commandOk = await runCommand();
    return { ok: true, changed: true, commandRan: entry.config.execute?.command !== undefined, commandOk };
  };

  /** Wakes the loop for a render now (after a short coalescing window). */
  const kick = () => {
    kicked = true;
    wake?.();
  };

  const waitForNext = async (ms: number, signal: AbortSignal) => {
    if (!kicked) {
      // AbortSignal.any also covers a signal aborted while the render was finishing.
      const timer = new AbortController();
      await Promise.race([clock.sleep(ms, AbortSignal.any([signal, timer.signal])).catch(() => {}), new Promise<void>((r) => (wake = r))]);
      wake = undefined;
      timer.abort();
    }
    if (kicked && !signal.aborted) await clock.sleep(deps.debounceMs ?? 20, signal).catch(() => {});
    kicked = false;
  };

  const run = async (signal: AbortSignal): Promise<void> => {
    try {
      await loop(signal);
    } finally {
      // Nobody may wait for a render that will not come (a rotation during shutdown).
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve({ ok: false, error: new Error("the template loop stopped") });
    }
  };

  const loop = async (signal: AbortSignal): Promise<void> => {
    let failures = 0;
    while (!signal.aborted) {
      let outcome: RenderOutcome;
      try {
        outcome = await renderOnce(signal);
      } catch {
        return; // aborted
      }
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve(outcome);
      failures = outcome.ok ? 0 : failures + 1;
      const wait = outcome.ok ? poll : Math.min(poll, backoffDelay(failures - 1, { baseDelayMs: RETRY_BASE_MS, maxDelayMs: RETRY_MAX_MS }, deps.random));
      await waitForNext(wait, signal);
    }
  };

  return {
    name: renderer.name,
    destination,
    index: deps.index,
    owner,
    renderOnce,
    run,
    kick,
    /** Kicks the running loop and resolves with the outcome of that render (a lease rotation waits on it). */
    renderNow: (): Promise<RenderOutcome> =>
      new Promise((resolve) => {
        waiters.push(resolve);
        kick();
      }),
    /** True once a render used a dynamic secret: the file holds lease credentials. */
    holdsLease: () => heldLease,
    /** revoke-credentials-on-shutdown: the file stays, empty, with its permission. */
    empty: async () => {
      await writeFileAtomic(destination, "", { mode: entry.permission });
      onDisk = Buffer.alloc(0);
      logger.info("file emptied: its lease credentials were revoked");
    },
    /** Folders the last render read. */
    reads: () => reads,
    /** True once the file holds a successful render. */
    ready: () => rendered,
  };
};
export type TemplateLoop = ReturnType<typeof createTemplateLoop>;

const mergeReads = (a: SecretScope[], b: SecretScope[]): SecretScope[] => {
  const seen = new Map<string, SecretScope>();
  for (const s of [...a, ...b]) seen.set(`${s.projectId}\0${s.environment}\0${s.secretPath}\0${s.recursive}`, s);
  return [...seen.values()];
};
