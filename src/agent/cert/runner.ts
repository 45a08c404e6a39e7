import { systemClock, type Clock } from "../../core/clock.js";
import { createKmsClient } from "../../client/kms-client.js";
import type { KmsClient } from "../../client/kms-client.js";
import { createAuthMethod } from "../auth/index.js";
import type { AuthDeps } from "../auth/index.js";
import type { Logger } from "../log.js";
import { silentLogger } from "../log.js";
import type { AgentMetrics } from "../metrics.js";
import { retryPolicyFromConfig } from "../retry.js";
import { createTokenManager } from "../token.js";
import type { TokenManager } from "../token.js";
import type { CertAgentConfig } from "./config.js";
import { createCertificateLoop } from "./lifecycle.js";
import type { CertificateLoop, CertLoopDeps } from "./lifecycle.js";
import type { TargetCache } from "./obtain.js";
import { createLimiter } from "../../core/limiter.js";
import { sharedAbortController } from "../abort.js";

/** Issuance calls one agent keeps in flight; measured with 100 certificates: the first lands sooner, the last no later. */
const ISSUE_CONCURRENCY = 8;

/**
 * The certificate agent's runtime: one token manager, one independent loop per certificate. `start`
 * returns a handle that can reload a new configuration (SIGHUP) and stop gracefully (SIGTERM): a stop
 * aborts waits and requests, but a set of files already being written is finished first.
 */

export interface CertAgentOptions {
  /** Stops the agent when aborted. */
  signal?: AbortSignal;
  clock?: Clock;
  logger?: Logger;
  /** Where state files go; default beside each certificate. */
  stateDir?: string;
  metrics?: AgentMetrics;
  random?: () => number;
  /** Credentials already read by an earlier load (remove-client-secret-on-read survives a reload). */
  authDeps?: AuthDeps;
  /** A client to use instead of one built from `kms.address` (tests, `kms dev`). */
  client?: KmsClient;
  hookKillGraceMs?: number;
  runHook?: CertLoopDeps["runHook"];
}

interface Generation {
  config: CertAgentConfig;
  abort: AbortController;
  loops: CertificateLoop[];
  done: Promise<void>;
}

export interface CertAgentHandle {
  /** True once every certificate has a valid set on disk. */
  ready(): boolean;
  loops(): readonly CertificateLoop[];
  reload(config: CertAgentConfig): Promise<void>;
  stop(): Promise<void>;
  /** Settles when the agent has stopped. */
  done: Promise<void>;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export const startCertAgent = (initial: CertAgentConfig, opts: CertAgentOptions = {}): CertAgentHandle => {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const authDeps: AuthDeps = opts.authDeps ?? { remembered: new Map() };
  authDeps.remembered ??= new Map();
  const stopped = new AbortController();

  interface Connection {
    client: KmsClient;
    tokens: TokenManager;
    abort: AbortController;
    loop: Promise<void>;
  }
  let conn: Connection;
  let gen: Generation | undefined;

  /** Builds client, auth method and token manager; throws (changing nothing) on unreadable credentials. */
  const connect = (config: CertAgentConfig): Connection => {
    const method = createAuthMethod(config.auth, authDeps);
    const apiLog = logger.child({ component: "api" });
    const client =
      opts.client ?? createKmsClient({ address: config.kms.address, userAgent: "kms-cert-agent", onExchange: (e) => apiLog.debug("API call", { ...e }) });
    const tokens = createTokenManager({
      client,
      method,
      clock,
      retry: retryPolicyFromConfig(config.kms["retry-strategy"]),
      logger: logger.child({ component: "auth" }),
      random: opts.random,
      onAuthenticated: (v) => opts.metrics?.authenticated.set(v ? 1 : 0),
    });
    const abort = sharedAbortController();
    return { client, tokens, abort, loop: tokens.run(abort.signal) };
  };

  const disconnect = async (c: Connection) => {
    c.abort.abort();
    await c.loop;
    if (!opts.client) await c.client.close();
  };

  const launch = (config: CertAgentConfig): Generation => {
    const abort = sharedAbortController();
    const retry = retryPolicyFromConfig(config.kms["retry-strategy"]);
    const targets: TargetCache = new Map();
    const issueSlots = createLimiter(ISSUE_CONCURRENCY);
    const loops = config.certificates.map((entry, index) =>
      createCertificateLoop({
        entry,
        index,
        targets,
        issueSlots,
        client: conn.client,
        tokens: conn.tokens,
        clock,
        logger,
        retry,
        metrics: opts.metrics,
        stateDir: opts.stateDir,
        random: opts.random,
        runHook: opts.runHook,
        hookKillGraceMs: opts.hookKillGraceMs,
      }),
    );
    const done = Promise.all(
      loops.map((l) =>
        l.run(abort.signal).catch((err: Error) => {
          // A loop only throws when it cannot even start (e.g. an unreadable CSR): the others go on.
          logger.error("certificate loop stopped", { certificate: l.name, error: err.message });
        }),
      ),
    ).then(() => undefined);
    return { config, abort, loops, done };
  };

  conn = connect(initial);
  gen = launch(initial);
  logger.info("certificate agent started", { certificates: initial.certificates.length, address: initial.kms.address });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      stopped.abort();
      gen?.abort.abort();
      await reloading.catch(() => {});
      await gen?.done;
      await disconnect(conn);
      logger.info("certificate agent stopped");
    })());

  let reloading: Promise<void> = Promise.resolve();
  const doReload = async (config: CertAgentConfig) => {
    if (stopped.signal.aborted) return;
    const authChanged = !sameJson(gen!.config.kms, config.kms) || !sameJson(gen!.config.auth, config.auth);
    // Connect first: if the new credentials cannot be read, the running generation stays untouched.
    const next = authChanged ? connect(config) : undefined;
    const old = gen!;
    old.abort.abort();
    await old.done;
    if (stopped.signal.aborted) {
      if (next) await disconnect(next);
      return;
    }
    if (next) {
      await disconnect(conn);
      conn = next;
    }
    gen = launch(config);
    logger.info("configuration reloaded", { certificates: config.certificates.length });
  };
  const reload = (config: CertAgentConfig) => (reloading = reloading.catch(() => {}).then(() => doReload(config)));

  opts.signal?.addEventListener("abort", () => void stop(), { once: true });
  if (opts.signal?.aborted) void stop();

  const done = (async () => {
    await new Promise<void>((resolve) => stopped.signal.addEventListener("abort", () => resolve(), { once: true }));
    await stopping;
  })();

  return {
    ready: () => gen !== undefined && gen.loops.every((l) => l.ready()),
    loops: () => gen?.loops ?? [],
    reload,
    stop,
    done,
  };
};

/** Runs the agent until `signal` aborts (the programmatic entry `kms dev` uses). */
export const runCertAgent = async (config: CertAgentConfig, opts: CertAgentOptions & { signal: AbortSignal }): Promise<void> => {
  const handle = startCertAgent(config, opts);
  await handle.done;
};
