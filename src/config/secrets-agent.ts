import { checkAuth } from "../agent/auth/index.js";
import type { AuthDeps } from "../agent/auth/index.js";
import { SecretsAgentConfig } from "../agent/secrets/config.js";
import { checkCache, checkForeignKeys, checkOutputs, checkTemplates, riskyPermissions } from "../agent/secrets/config-checks.js";
import type { RendererOptions } from "../agent/secrets/render.js";
import { loadYamlConfig } from "./yaml.js";
import type { PathProblem, ValidateResult } from "./yaml.js";

/**
 * Composes the secrets agent's configuration (seed 003): the schema (agent/secrets/config.ts), the auth
 * registry's file checks, template parsing, output and cache checks, YAML positions, and the
 * `kms:`/`infisical:` root alias.
 */
export const ROOT_ALIASES = { infisical: "kms" };

export const loadSecretsAgentConfig = (text: string, deps: AuthDeps = {}, renderer: RendererOptions = {}): ValidateResult<SecretsAgentConfig> =>
  loadYamlConfig(text, SecretsAgentConfig, {
    rootAliases: ROOT_ALIASES,
    check: (raw) => {
      const r = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
      const problems: PathProblem[] = [
        ...checkForeignKeys(r),
        ...checkAuth(r.auth, deps),
        ...checkTemplates(r.templates, renderer),
        ...checkOutputs(r.sinks, r.templates),
        ...checkCache(r.cache),
      ];
      return problems;
    },
    warn: riskyPermissions,
  });
