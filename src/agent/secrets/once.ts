import { systemClock, type Clock } from "../../core/clock.js";
import type { Logger } from "../log.js";
import { silentLogger } from "../log.js";
import type { SecretsAgentConfig } from "./config.js";
import { connect, createLeases, disconnect, prepare, revokeAndEmpty, revokeLeasesAndEmpty } from "./runner.js";
import type { SecretsAgentOptions } from "./runner.js";

/**
 * `kms.exit-after-auth: true`: authenticate, write every sink, render every template once, and exit:
 * 0 when all of it worked, 1 otherwise (upstream exited 0 after a fixed delay whatever happened).
 */
export const SINK_SETTLE_MS = 30_000;

export const runSecretsAgentOnce = async (config: SecretsAgentConfig, opts: SecretsAgentOptions = {}): Promise<number> => {
  const clock: Clock = opts.clock ?? systemClock;
  const logger: Logger = opts.logger ?? silentLogger;
  opts = { ...opts, authDeps: opts.authDeps ?? { remembered: new Map() } };
  const conn = connect(config, opts, logger, clock);
  let failed = false;
  let parts;
  let leases;
  try {
    // Nothing renews or rotates in a single run: the leases live until their TTL (or the cache's next run).
    leases = await createLeases(config, () => conn, opts, logger, clock, async () => {});
    parts = await prepare(config, conn, leases, opts, logger, clock);
  } catch (err) {
    logger.error("cannot start", { error: (err as Error).message });
    await disconnect(conn, opts);
    return 1;
  }
  const { sinks, loops } = parts;
  try {
    // The background loop logged in; `get` waits for that login (or makes one) and throws once retries are spent.
    const token = await conn.tokens.get(conn.abort.signal);
    sinks.deliver(conn.token() ?? token);
    for (const r of await sinks.settle(SINK_SETTLE_MS)) {
      if (r.ok) continue;
      failed = true;
      logger.error("cannot write the token to the sink", { sink: r.sink, error: r.error?.message });
    }
    const outcomes = await Promise.all(loops.map((l) => l.renderOnce(conn.abort.signal)));
    outcomes.forEach((o) => {
      if (!o.ok || (o.commandRan && o.commandOk === false)) failed = true;
    });
  } catch (err) {
    failed = true;
    logger.error("authentication failed", { error: (err as Error).message });
  }
  await sinks.halt();
  if (config.kms["revoke-credentials-on-shutdown"]) {
    if (!(await revokeLeasesAndEmpty(leases, loops, logger))) failed = true;
    if (!(await revokeAndEmpty(conn, sinks, logger))) failed = true;
  }
  await disconnect(conn, opts);
  logger.info(failed ? "exit-after-auth: finished with errors" : "exit-after-auth: done", { templates: loops.length, sinks: sinks.size });
  return failed ? 1 : 0;
};
