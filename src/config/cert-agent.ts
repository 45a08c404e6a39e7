import { CertAgentConfig, checkCertificates } from "../agent/cert/config.js";
import { checkAuth } from "../agent/auth/index.js";
import type { AuthDeps } from "../agent/auth/index.js";
import { loadYamlConfig } from "./yaml.js";
import type { PathProblem, ValidateResult } from "./yaml.js";

/**
 * Composes the certificate agent's configuration: the schema (agent/cert/config.ts), the auth
 * registry's file checks, YAML positions, and the `kms:`/`infisical:` root alias.
 */
export const ROOT_ALIASES = { infisical: "kms" };

export const loadCertAgentConfig = (text: string, deps: AuthDeps = {}): ValidateResult<CertAgentConfig> =>
  loadYamlConfig(text, CertAgentConfig, {
    rootAliases: ROOT_ALIASES,
    check: (raw) => {
      const r = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
      const problems: PathProblem[] = [...checkAuth(r.auth, deps), ...checkCertificates(r.certificates)];
      return problems;
    },
  });
