import { Command } from "commander";
import { CONFIG_ENV, readConfig } from "../config/source.js";
import type { ConfigSource } from "../config/source.js";
import { loadSecretsAgentConfig } from "../config/secrets-agent.js";
import type { ValidateResult } from "../config/yaml.js";
import type { AuthDeps } from "../agent/auth/index.js";
import type { SecretsAgentConfig } from "../agent/secrets/config.js";
import { runSecretsAgentOnce } from "../agent/secrets/once.js";
import { startSecretsAgent } from "../agent/secrets/runner.js";
import type { SecretsAgentHandle, SecretsAgentOptions } from "../agent/secrets/runner.js";
import { runUntilStopped, startAgentProcess } from "./agent-process.js";
import type { AgentProcessOptions } from "./agent-process.js";

/**
 * `kms agent --config FILE`: the secrets agent (seed 003). Wiring only. The configuration is validated
 * before the first network call (exit 2 with every problem, key path and line:column); then the agent
 * runs in the foreground as systemd expects. SIGTERM/SIGINT stop it (exit 0, after revoking what
 * revoke-credentials-on-shutdown asks), SIGHUP reloads the configuration (validated first; on a problem
 * the running configuration stays). With exit-after-auth it renders once and exits 0, or 1 on any error.
 */

export type AgentCliOptions = AgentProcessOptions;

/** Runs the agent command; resolves with the process exit code. */
export const runAgent = async (o: AgentCliOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> => {
  const authDeps: AuthDeps = { remembered: new Map() };
  const load = (src: ConfigSource): ValidateResult<SecretsAgentConfig> => readConfig(src, (text) => loadSecretsAgentConfig(text, authDeps));
  const start = startAgentProcess(o, env, load);
  if (typeof start === "number") return start;
  const { src, config, logger } = start;
  const opts: SecretsAgentOptions = { logger, authDeps };

  if (config.kms["exit-after-auth"]) return runSecretsAgentOnce(config, opts);

  let handle: SecretsAgentHandle;
  try {
    handle = await startSecretsAgent(config, opts);
  } catch (err) {
    logger.error("cannot start the secrets agent", { error: (err as Error).message });
    return 1;
  }
  await runUntilStopped(handle, {
    logger, src, load, stopping: "stopping",
    onReload: (next) => {
      if (next.kms["exit-after-auth"]) logger.warn("exit-after-auth takes effect at the next start, not on reload");
    },
  });
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
