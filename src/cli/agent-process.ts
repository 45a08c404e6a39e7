import { CONFIG_ENV, configSource, EXIT_CONFIG } from "../config/source.js";
import type { ConfigSource } from "../config/source.js";
import { formatProblems } from "../config/yaml.js";
import type { ConfigProblem, ValidateResult } from "../config/yaml.js";
import { createLogger } from "../agent/log.js";
import type { Logger } from "../agent/log.js";

/**
 * What both agent commands (`kms agent`, `kms cert-manager agent`) do alike around their agent: check the
 * common options and read the configuration before anything else (exit 2 listing every problem), then run
 * in the foreground until SIGTERM/SIGINT, reloading the configuration on SIGHUP (validated first; on a
 * problem the running one stays).
 */

export interface AgentProcessOptions {
  config?: string;
  verbose?: boolean;
  logFormat?: string;
}

export interface AgentStart<C> {
  src: ConfigSource;
  config: C;
  logger: Logger;
}

/**
 * The configuration and a logger, or the exit code when something is wrong: every problem is printed at once,
 * the command's own (`usage`, e.g. a bad --metrics-addr) after --log-format's and before the configuration's.
 */
export const startAgentProcess = <C>(
  o: AgentProcessOptions, env: NodeJS.ProcessEnv, load: (src: ConfigSource) => ValidateResult<C>, usage: ConfigProblem[] = [],
): AgentStart<C> | number => {
  const problems: ConfigProblem[] = [];
  const format = o.logFormat ?? "text";
  if (format !== "text" && format !== "json") problems.push({ path: "--log-format", message: `must be "text" or "json", got ${JSON.stringify(format)}` });
  problems.push(...usage);
  const src = configSource(o.config, env);
  if (!src) problems.push({ path: "--config", message: `no configuration: pass --config FILE or set ${CONFIG_ENV}` });
  const first = src ? load(src) : undefined;
  if (first && !first.ok) problems.push(...first.problems);
  if (problems.length || !src || !first?.ok) {
    process.stderr.write(`${formatProblems(problems, src?.name ?? "command line")}\n`);
    return EXIT_CONFIG;
  }
  const logger = createLogger({ format: format as "text" | "json", level: o.verbose ? "debug" : "info" });
  warnAbout(first, src, logger);
  return { src, config: first.value, logger };
};

/** A configuration's warnings (what works but is probably a mistake), each with its line:column. */
const warnAbout = (r: { warnings?: ConfigProblem[] }, src: ConfigSource, logger: Logger) => {
  for (const w of r.warnings ?? []) logger.warn(`${src.name}${w.line !== undefined ? `:${w.line}:${w.column ?? 1}` : ""}: ${w.path}: ${w.message}`);
};

export interface RunningAgent<C> {
  done: Promise<unknown>;
  stop(): Promise<unknown>;
  reload(config: C): Promise<unknown>;
}

/** Serves the signals until the agent is done. `stopping`: the log line of a stop; `onReload`: a look at a new configuration before it applies. */
export const runUntilStopped = async <C>(
  agent: RunningAgent<C>, o: { logger: Logger; src: ConfigSource; load: (src: ConfigSource) => ValidateResult<C>; stopping: string; onReload?: (config: C) => void },
): Promise<void> => {
  const { logger, src } = o;
  const onStop = (sig: NodeJS.Signals) => {
    logger.info(o.stopping, { signal: sig });
    void agent.stop();
  };
  const onHup = () => {
    logger.info("reloading configuration", { source: src.name });
    const next = o.load(src);
    if (!next.ok) {
      for (const p of next.problems) logger.error("configuration not reloaded", { problem: `${p.line ? `${p.line}:${p.column} ` : ""}${p.path}: ${p.message}` });
      return;
    }
    warnAbout(next, src, logger);
    o.onReload?.(next.value);
    agent.reload(next.value).catch((err: Error) => logger.error("configuration not reloaded", { error: err.message }));
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onHup);
  try {
    await agent.done;
  } finally {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onHup);
  }
};
