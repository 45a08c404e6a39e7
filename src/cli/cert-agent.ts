import { Command } from "commander";
import { CONFIG_ENV, readConfig } from "../config/source.js";
import type { ConfigSource } from "../config/source.js";
import { loadCertAgentConfig } from "../config/cert-agent.js";
import type { ConfigProblem, ValidateResult } from "../config/yaml.js";
import type { AuthDeps } from "../agent/auth/index.js";
import type { CertAgentConfig } from "../agent/cert/config.js";
import { startCertAgent } from "../agent/cert/runner.js";
import { runUntilStopped, startAgentProcess } from "./agent-process.js";
import type { AgentProcessOptions } from "./agent-process.js";
import { createAgentMetrics, parseHostPort, startMetricsServer } from "../agent/metrics.js";

/**
 * `kms cert-manager agent`: wiring only. Validates everything before the first network call (exit 2
 * with every problem), then runs the agent in the foreground as systemd expects; SIGTERM/SIGINT stop it
 * cleanly (exit 0), SIGHUP reloads the configuration (validated first; the old one stays on error).
 */

export interface CertAgentCliOptions extends AgentProcessOptions {
  stateDir?: string;
  metricsAddr?: string;
}

/** Runs the agent command; resolves with the process exit code. */
export const runCertManagerAgent = async (o: CertAgentCliOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> => {
  const usage: ConfigProblem[] = [];
  if (o.metricsAddr) {
    try {
      parseHostPort(o.metricsAddr);
    } catch (err) {
      usage.push({ path: "--metrics-addr", message: (err as Error).message });
    }
  }
  const authDeps: AuthDeps = { remembered: new Map() };
  const load = (src: ConfigSource): ValidateResult<CertAgentConfig> => readConfig(src, (text) => loadCertAgentConfig(text, authDeps));
  const start = startAgentProcess(o, env, load, usage);
  if (typeof start === "number") return start;
  const { src, config, logger } = start;

  const metrics = createAgentMetrics();
  let handle: ReturnType<typeof startCertAgent>;
  try {
    handle = startCertAgent(config, { logger, metrics, stateDir: o.stateDir, authDeps });
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
  try {
    await runUntilStopped(handle, { logger, src, load, stopping: "stopping: finishing in-flight writes" });
  } finally {
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
