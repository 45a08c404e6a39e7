import { Command } from "commander";
import { CONFIG_ENV, configSource, EXIT_CONFIG, readConfig } from "../config/source.js";
import type { ConfigSource } from "../config/source.js";
import { loadCertAgentConfig } from "../config/cert-agent.js";
import { formatProblems } from "../config/yaml.js";
import type { ConfigProblem, ValidateResult } from "../config/yaml.js";
import type { AuthDeps } from "../agent/auth/index.js";
import type { CertAgentConfig } from "../agent/cert/config.js";
import { startCertAgent } from "../agent/cert/runner.js";
import { createLogger } from "../agent/log.js";
import { createAgentMetrics, parseHostPort, startMetricsServer } from "../agent/metrics.js";

/**
 * `kms cert-manager agent`: wiring only. Validates everything before the first network call (exit 2
 * with every problem), then runs the agent in the foreground as systemd expects; SIGTERM/SIGINT stop it
 * cleanly (exit 0), SIGHUP reloads the configuration (validated first; the old one stays on error).
 */

export interface CertAgentCliOptions {
  config?: string;
  verbose?: boolean;
  logFormat?: string;
  stateDir?: string;
  metricsAddr?: string;
}

const load = (src: ConfigSource, deps: AuthDeps): ValidateResult<CertAgentConfig> => readConfig(src, (text) => loadCertAgentConfig(text, deps));

/** Runs the agent command; resolves with the process exit code. */
export const runCertManagerAgent = async (o: CertAgentCliOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> => {
  const usage: ConfigProblem[] = [];
  const format = o.logFormat ?? "text";
  if (format !== "text" && format !== "json") usage.push({ path: "--log-format", message: `must be "text" or "json", got ${JSON.stringify(format)}` });
  if (o.metricsAddr) {
    try {
      parseHostPort(o.metricsAddr);
    } catch (err) {
      usage.push({ path: "--metrics-addr", message: (err as Error).message });
    }
  }
  const src = configSource(o.config, env);
  if (!src) usage.push({ path: "--config", message: `no configuration: pass --config FILE or set ${CONFIG_ENV}` });
  const authDeps: AuthDeps = { remembered: new Map() };
  const first = src ? load(src, authDeps) : undefined;
  const problems = [...usage, ...(first && !first.ok ? first.problems : [])];
  if (problems.length || !first?.ok) {
    process.stderr.write(`${formatProblems(problems, src?.name ?? "command line")}\n`);
    return EXIT_CONFIG;
  }

  const logger = createLogger({ format: format as "text" | "json", level: o.verbose ? "debug" : "info" });
  const metrics = createAgentMetrics();
  let handle: ReturnType<typeof startCertAgent>;
  try {
    handle = startCertAgent(first.value, { logger, metrics, stateDir: o.stateDir, authDeps });
  } catch (err) {
    logger.error("cannot start the certificate agent", { error: (err as Error).message });
    return 1;
  }
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (o.metricsAddr) {
    try {
      metricsServer = await startMetricsServer({ addr: o.metricsAddr, registry: metrics.registry, ready: () => handle.ready() });
      logger.info("metrics listening", { address: metricsServer.address });
    } catch (err) {
      logger.error("cannot serve metrics", { addr: o.metricsAddr, error: (err as Error).message });
      await handle.stop();
      return 1;
    }
  }

  const onStop = (sig: NodeJS.Signals) => {
    logger.info("stopping: finishing in-flight writes", { signal: sig });
    void handle.stop();
  };
  const onHup = () => {
    logger.info("reloading configuration", { source: src!.name });
    const next = load(src!, authDeps);
    if (!next.ok) {
      for (const p of next.problems) logger.error("configuration not reloaded", { problem: `${p.line ? `${p.line}:${p.column} ` : ""}${p.path}: ${p.message}` });
      return;
    }
    handle.reload(next.value).catch((err: Error) => logger.error("configuration not reloaded", { error: err.message }));
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onHup);
  try {
    await handle.done;
  } finally {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onHup);
    await metricsServer?.close();
  }
  return 0;
};

export const certManagerCommand = (): Command => {
  const cmd = new Command("cert-manager").description("certificate management: the certificate agent");
  cmd
    .command("agent")
    .description("request, persist, monitor and renew certificates as the configuration says (seed 001)")
    .option("--config <file>", `agent configuration YAML (or set ${CONFIG_ENV})`)
    .option("--verbose", "log debug details")
    .option("--log-format <format>", "log line format: text or json", "text")
    .option("--state-dir <dir>", "keep state files here instead of beside each certificate")
    .option("--metrics-addr <host:port>", "serve /metrics, /healthz and /readyz on this address")
    .action(async (o: CertAgentCliOptions) => {
      const code = await runCertManagerAgent(o);
      // Exit explicitly: a hook's orphaned grandchild or a keep-alive socket must not keep us alive.
      process.exit(code);
    });
  return cmd;
};
