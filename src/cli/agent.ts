import { Command } from "commander";
import { CONFIG_ENV, configSource, EXIT_CONFIG, readConfig } from "../config/source.js";
import type { ConfigSource } from "../config/source.js";
import { loadSecretsAgentConfig } from "../config/secrets-agent.js";
import { formatProblems } from "../config/yaml.js";
import type { ConfigProblem, ValidateResult } from "../config/yaml.js";
import type { AuthDeps } from "../agent/auth/index.js";
import type { SecretsAgentConfig } from "../agent/secrets/config.js";
import { runSecretsAgentOnce } from "../agent/secrets/once.js";
import { startSecretsAgent } from "../agent/secrets/runner.js";
import type { SecretsAgentHandle, SecretsAgentOptions } from "../agent/secrets/runner.js";
import { createLogger } from "../agent/log.js";

/**
 * `kms agent --config FILE`: the secrets agent (seed 003). Wiring only. The configuration is validated
 * before the first network call (exit 2 with every problem, key path and line:column); then the agent
 * runs in the foreground as systemd expects. SIGTERM/SIGINT stop it (exit 0, after revoking what
 * revoke-credentials-on-shutdown asks), SIGHUP reloads the configuration (validated first; on a problem
 * the running configuration stays). With exit-after-auth it renders once and exits 0, or 1 on any error.
 */

export interface AgentCliOptions {
  config?: string;
  verbose?: boolean;
  logFormat?: string;
}

const load = (src: ConfigSource, deps: AuthDeps): ValidateResult<SecretsAgentConfig> => readConfig(src, (text) => loadSecretsAgentConfig(text, deps));

/** Runs the agent command; resolves with the process exit code. */
export const runAgent = async (o: AgentCliOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> => {
  const usage: ConfigProblem[] = [];
  const format = o.logFormat ?? "text";
  if (format !== "text" && format !== "json") usage.push({ path: "--log-format", message: `must be "text" or "json", got ${JSON.stringify(format)}` });
  const src = configSource(o.config, env);
  if (!src) usage.push({ path: "--config", message: `no configuration: pass --config FILE or set ${CONFIG_ENV}` });
  const authDeps: AuthDeps = { remembered: new Map() };
  const first = src ? load(src, authDeps) : undefined;
  const problems = [...usage, ...(first && !first.ok ? first.problems : [])];
  if (problems.length || !first?.ok) {
    process.stderr.write(`${formatProblems(problems, src?.name ?? "command line")}\n`);
    return EXIT_CONFIG;
  }
  const config = first.value;
  const logger = createLogger({ format: format as "text" | "json", level: o.verbose ? "debug" : "info" });
  const opts: SecretsAgentOptions = { logger, authDeps };

  if (config.kms["exit-after-auth"]) return runSecretsAgentOnce(config, opts);

  let handle: SecretsAgentHandle;
  try {
    handle = await startSecretsAgent(config, opts);
  } catch (err) {
    logger.error("cannot start the secrets agent", { error: (err as Error).message });
    return 1;
  }
  const onStop = (sig: NodeJS.Signals) => {
    logger.info("stopping", { signal: sig });
    void handle.stop();
  };
  const onHup = () => {
    logger.info("reloading configuration", { source: src!.name });
    const next = load(src!, authDeps);
    if (!next.ok) {
      for (const p of next.problems) logger.error("configuration not reloaded", { problem: `${p.line ? `${p.line}:${p.column} ` : ""}${p.path}: ${p.message}` });
      return;
    }
    if (next.value.kms["exit-after-auth"]) logger.warn("exit-after-auth takes effect at the next start, not on reload");
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
  }
  return 0;
};

export const agentCommand = (): Command =>
  new Command("agent")
    .description("keep an access token in sinks and secret files rendered from templates fresh (seed 003)")
    .option("--config <file>", `agent configuration YAML (or set ${CONFIG_ENV})`)
    .option("--verbose", "log debug details")
    .option("--log-format <format>", "log line format: text or json", "text")
    .action(async (o: AgentCliOptions) => {
      const code = await runAgent(o, process.env);
      // Exit explicitly: a command's orphaned grandchild or a keep-alive socket must not keep us alive.
      process.exit(code);
    });
