import { systemClock, type Clock } from "../../core/clock.js";
import { createKmsClient } from "../../client/kms-client.js";
import type { KmsClient } from "../../client/kms-client.js";
import { createSecretEventsClient } from "../../client/secret-events.js";
import type { SecretEventsClient } from "../../client/secret-events.js";
import { createAuthMethod } from "../auth/index.js";
import type { AuthDeps } from "../auth/index.js";
import type { Logger } from "../log.js";
import { silentLogger } from "../log.js";
import { retryPolicyFromConfig } from "../retry.js";
import { createSink } from "../sinks/index.js";
import { createTokenManager } from "../token.js";
import type { TokenManager } from "../token.js";
import { concerns, createChangeStreams } from "./change-stream.js";
import type { ChangeNotice, ChangeStreams } from "./change-stream.js";
import type { SecretsAgentConfig } from "./config.js";
import type { RendererOptions } from "./render.js";
import { createSecretSource } from "./source.js";
import type { SecretSource } from "./source.js";
import { createTemplateLoop } from "./template-loop.js";
import type { TemplateLoop, TemplateLoopDeps } from "./template-loop.js";
import { createSinkSet } from "./token-sinks.js";
import type { SinkSet } from "./token-sinks.js";
import { createLeaseManager } from "./leases.js";
import type { LeaseManager } from "./leases.js";
import { openLeaseCache } from "../cache/lease-cache.js";
import { sharedAbortController } from "../abort.js";

/**
 * The secrets agent's core: it only sequences (STYLE rule 9). Auth yields tokens, each handed to every
 * sink; each template renders on its own loop; the change streams wake the templates that read what
 * changed. A reload (SIGHUP) swaps sinks and templates, and the connection only when `kms`/`auth`
 * changed; a stop revokes and empties what `revoke-credentials-on-shutdown` asks for.
 */

export interface SecretsAgentOptions {
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
  authDeps?: AuthDeps;
  /** Instead of clients built from `kms.address` (tests). */
  client?: KmsClient;
  events?: SecretEventsClient;
  renderer?: RendererOptions;
  hookKillGraceMs?: number;
  runHook?: TemplateLoopDeps["runHook"];
}

/** How long a lease rotation waits for its templates to render before revoking the old lease anyway. */
export const ROTATION_RENDER_TIMEOUT_MS = 60_000;

export interface Connection {
  client: KmsClient;
  events: SecretEventsClient;
  tokens: TokenManager;
  source: SecretSource;
  streams: ChangeStreams;
  abort: AbortController;
  loop: Promise<void>;
  /** The newest token the agent received. */
  token(): string | undefined;
  onToken(fn: (token: string) => void): () => void;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Builds client, token manager, secret source and change streams. The token manager has no "new token"
 * callback, so the client it uses is wrapped: every successful login or renewal is a new token.
 */
export const connect = (config: SecretsAgentConfig, opts: SecretsAgentOptions, logger: Logger, clock: Clock): Connection => {
  const authDeps = opts.authDeps ?? { remembered: new Map() };
  const method = createAuthMethod(config.auth, authDeps);
  const client = opts.client ?? createKmsClient({ address: config.kms.address, userAgent: "kms-agent" });
  const events = opts.events ?? createSecretEventsClient({ address: config.kms.address, userAgent: "kms-agent" });
  const listeners = new Set<(t: string) => void>();
  let latest: string | undefined;
  const seen = (t: string) => {
    latest = t;
    for (const l of listeners) l(t);
  };
  const retry = retryPolicyFromConfig(config.kms["retry-strategy"]);
  const tokens = createTokenManager({ client, method, clock, retry, logger: logger.child({ component: "auth" }), random: opts.random, onToken: seen });
  const source = createSecretSource({ client, tokens, retry, clock, logger: logger.child({ component: "secrets" }), random: opts.random });
  const streams = createChangeStreams({ events, tokens, clock, logger: logger.child({ component: "change-stream" }), random: opts.random });
  const abort = sharedAbortController();
  return {
    client, events, tokens, source, streams, abort,
    loop: tokens.run(abort.signal),
    token: () => latest,
    onToken: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
};

export const disconnect = async (c: Connection, opts: SecretsAgentOptions) => {
  c.abort.abort();
  await c.loop;
  await c.streams.stop();
  if (!opts.client) await c.client.close();
  if (!opts.events) await c.events.close();
};

/**
 * The lease manager outlives connections (a reload that changes `auth` keeps the leases): it reaches the
 * KMS through whatever connection is current. Its cache opens here, so a bad cache fails at start.
 */
export const createLeases = async (
  config: SecretsAgentConfig,
  current: () => Connection,
  opts: SecretsAgentOptions,
  logger: Logger,
  clock: Clock,
  onRotated: (owners: string[]) => Promise<void>,
): Promise<LeaseManager> => {
  const persistent = config.cache?.persistent;
  const cache = persistent ? await openLeaseCache(persistent, { clock, logger: logger.child({ component: "cache" }) }) : undefined;
  return createLeaseManager({
    client: {
      createLease: (...a) => current().client.createLease(...a),
      getLease: (...a) => current().client.getLease(...a),
      renewLease: (...a) => current().client.renewLease(...a),
      revokeLease: (...a) => current().client.revokeLease(...a),
    },
    tokens: { withToken: (fn, signal) => current().tokens.withToken(fn, signal) },
    retry: retryPolicyFromConfig(config.kms["retry-strategy"]),
    clock,
    logger: logger.child({ component: "leases" }),
    cache,
    random: opts.random,
    onRotated,
  });
};

/** Renders the owners of a rotated lease and waits (bounded) until they have. */
export const renderOwners = async (loops: readonly TemplateLoop[], owners: string[], clock: Clock): Promise<void> => {
  const hit = loops.filter((l) => owners.includes(l.owner));
  const timer = new AbortController();
  const timeout = clock.sleep(ROTATION_RENDER_TIMEOUT_MS, timer.signal).then(
    () => Promise.reject(new Error(`no render within ${ROTATION_RENDER_TIMEOUT_MS} ms`)),
    () => undefined,
  );
  try {
    await Promise.race([Promise.all(hit.map((l) => l.renderNow())), timeout]);
  } finally {
    timer.abort();
  }
};

/** revoke-credentials-on-shutdown for leases: revoke them all, then empty the files that held their credentials. */
export const revokeLeasesAndEmpty = async (leases: LeaseManager, loops: readonly TemplateLoop[], logger: Logger): Promise<boolean> => {
  const owners = leases.owners();
  let ok = await leases.revokeAll();
  for (const l of loops.filter((x) => x.holdsLease() || owners.has(x.owner))) {
    await l.empty().catch((e: Error) => {
      ok = false;
      logger.error("cannot empty a file that held lease credentials", { destination: l.destination, error: e.message });
    });
  }
  return ok;
};

export interface Generation {
  config: SecretsAgentConfig;
  sinks: SinkSet;
  loops: TemplateLoop[];
  abort: AbortController;
  done: Promise<void>;
  detach: () => void;
}

/** Builds the sinks (checking each location first) and the template loops of one configuration. */
export const prepare = async (config: SecretsAgentConfig, conn: Connection, leases: LeaseManager, opts: SecretsAgentOptions, logger: Logger, clock: Clock) => {
  const sinks = createSinkSet(await Promise.all(config.sinks.map((s) => createSink(s))), { clock, logger: logger.child({ component: "sinks" }), random: opts.random });
  const push = config.kms["change-stream"];
  const loops = config.templates.map((entry, index) =>
    createTemplateLoop({
      entry,
      index,
      source: conn.source,
      leases,
      clock,
      logger,
      renderer: opts.renderer,
      runHook: opts.runHook,
      hookKillGraceMs: opts.hookKillGraceMs,
      random: opts.random,
      onReads: (entry.config["change-stream"] ?? push) ? (scopes) => conn.streams.setInterest(`templates[${index}]`, scopes) : undefined,
    }),
  );
  return { sinks, loops };
};

/** Which templates a notice concerns: a change in a folder they read, or a resync of one. */
const affected = (loops: TemplateLoop[], n: ChangeNotice) =>
  loops.filter((l) =>
    l.reads().some((r) =>
      n.change
        ? concerns(r, n.scope.projectId, n.scope.environment, n.change.secretPath)
        : r.projectId === n.scope.projectId && r.environment === n.scope.environment && (concerns(n.scope, r.projectId, r.environment, r.secretPath) || concerns(r, r.projectId, r.environment, n.scope.secretPath)),
    ),
  );

const launch = (config: SecretsAgentConfig, conn: Connection, parts: { sinks: SinkSet; loops: TemplateLoop[] }, logger: Logger): Generation => {
  const abort = sharedAbortController();
  const offToken = conn.onToken((t) => parts.sinks.deliver(t));
  const current = conn.token();
  if (current) parts.sinks.deliver(current);
  const offNotice = conn.streams.onNotice((n) => {
    const hit = affected(parts.loops, n);
    if (hit.length === 0) return;
    conn.source.invalidate();
    for (const l of hit) l.kick();
  });
  const done = Promise.all(
    parts.loops.map((l) => l.run(abort.signal).catch((err: Error) => logger.error("template loop stopped", { template: `templates[${l.index}]`, error: err.message }))),
  ).then(() => undefined);
  return {
    config, ...parts, abort, done,
    detach: () => {
      offToken();
      offNotice();
      parts.loops.forEach((l) => conn.streams.dropInterest(`templates[${l.index}]`));
    },
  };
};

export interface SecretsAgentHandle {
  ready(): boolean;
  loops(): readonly TemplateLoop[];
  reload(config: SecretsAgentConfig): Promise<void>;
  stop(): Promise<void>;
  done: Promise<void>;
  connection(): Connection;
  leases(): LeaseManager;
}

export const startSecretsAgent = async (initial: SecretsAgentConfig, opts: SecretsAgentOptions = {}): Promise<SecretsAgentHandle> => {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  opts = { ...opts, authDeps: opts.authDeps ?? { remembered: new Map() } };
  let conn = connect(initial, opts, logger, clock);
  let gen: Generation;
  let leases: LeaseManager;
  const stopped = new AbortController();
  try {
    leases = await createLeases(initial, () => conn, opts, logger, clock, (owners) => renderOwners(gen.loops, owners, clock));
    gen = launch(initial, conn, await prepare(initial, conn, leases, opts, logger, clock), logger);
  } catch (err) {
    await disconnect(conn, opts);
    throw err;
  }
  const leaseLoop = leases.run(stopped.signal);
  logger.info("secrets agent started", { address: initial.kms.address, sinks: initial.sinks.length, templates: initial.templates.length });

  const retire = async (g: Generation) => {
    g.abort.abort();
    await g.done;
    g.detach();
    await g.sinks.halt();
  };

  let reloading: Promise<void> = Promise.resolve();
  const doReload = async (config: SecretsAgentConfig) => {
    if (stopped.signal.aborted) return;
    const authChanged = !sameJson(gen.config.kms, config.kms) || !sameJson(gen.config.auth, config.auth);
    // Build everything new first: if a credential file or a sink path is bad, the running agent stays.
    const next = authChanged ? connect(config, opts, logger, clock) : conn;
    let parts;
    try {
      parts = await prepare(config, next, leases, opts, logger, clock);
    } catch (err) {
      if (next !== conn) await disconnect(next, opts);
      throw err;
    }
    await retire(gen);
    if (next !== conn) {
      await disconnect(conn, opts);
      conn = next;
    }
    if (!sameJson(gen.config.cache, config.cache)) logger.warn("cache settings take effect at the next start, not on reload");
    // Templates re-learn which leases they use from their first renders; unused leases are left to expire.
    leases.resetOwners();
    gen = launch(config, conn, parts, logger);
    logger.info("configuration reloaded", { sinks: config.sinks.length, templates: config.templates.length });
  };
  const reload = (config: SecretsAgentConfig) => (reloading = reloading.catch(() => {}).then(() => doReload(config)));

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      stopped.abort();
      await reloading.catch(() => {});
      await retire(gen);
      await leaseLoop;
      const revoke = gen.config.kms["revoke-credentials-on-shutdown"];
      if (revoke) {
        await revokeLeasesAndEmpty(leases, gen.loops, logger);
        await revokeAndEmpty(conn, gen.sinks, logger);
      }
      await disconnect(conn, opts);
      logger.info("secrets agent stopped");
    })());

  const done = (async () => {
    await new Promise<void>((resolve) => stopped.signal.addEventListener("abort", () => resolve(), { once: true }));
    await stopping;
  })();

  return {
    ready: () => gen.loops.every((l) => l.ready()),
    loops: () => gen.loops,
    reload,
    stop,
    done,
    connection: () => conn,
    leases: () => leases,
  };
};

/** revoke-credentials-on-shutdown: the token stops working on the server, and no sink holds it. */
export const revokeAndEmpty = async (conn: Connection, sinks: SinkSet, logger: Logger): Promise<boolean> => {
  let ok = true;
  try {
    await conn.tokens.revoke();
    logger.info("access token revoked");
  } catch (err) {
    ok = false;
    logger.error("cannot revoke the access token", { error: (err as Error).message });
  }
  sinks.deliver("");
  for (const r of await sinks.settle(10_000)) {
    if (!r.ok) {
      ok = false;
      logger.error("cannot empty the sink", { sink: r.sink, error: r.error?.message });
    }
  }
  return ok;
};
