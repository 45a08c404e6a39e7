import { z } from "zod";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";
import { checkUniversalAuth, createUniversalAuth, UniversalAuthConfig } from "./universal-auth.js";
import type { UniversalAuthDeps } from "./universal-auth.js";

/**
 * The auth registry: a typed record keyed by `auth.type` (STYLE rule 7). Adding a method is one file
 * plus one member in the union and one entry here; forgetting the entry fails the build.
 */

/** Types the seeds document that arrive with the workload-identity work; named so the error is clear. */
export const LATER_AUTH_TYPES = ["kubernetes-auth", "kubernetes", "azure-auth", "azure", "gcp-id-token", "gcp-iam", "aws-iam", "ldap-auth"] as const;

export const AuthConfig = z.discriminatedUnion("type", [UniversalAuthConfig], {
  error: (iss) => {
    if (iss.code !== "invalid_union") return undefined;
    const t = (iss.input as { type?: unknown } | undefined)?.type;
    if (t === undefined) return 'is required (one of: "universal-auth")';
    if ((LATER_AUTH_TYPES as readonly unknown[]).includes(t)) return `auth type ${JSON.stringify(t)} is not supported yet; use "universal-auth"`;
    return `unknown auth type ${JSON.stringify(t)}; supported: "universal-auth"`;
  },
});
export type AuthConfig = z.output<typeof AuthConfig>;

export type AuthDeps = UniversalAuthDeps;

type AuthFactories = { [K in AuthConfig["type"]]: (cfg: Extract<AuthConfig, { type: K }>, deps: AuthDeps) => AuthMethod };
const authFactories: AuthFactories = { "universal-auth": createUniversalAuth };

type AuthChecks = { [K in AuthConfig["type"]]: (rawConfig: Record<string, unknown>, path: (string | number)[], deps: AuthDeps) => PathProblem[] };
const authChecks: AuthChecks = { "universal-auth": checkUniversalAuth };

export const createAuthMethod = (cfg: AuthConfig, deps: AuthDeps = {}): AuthMethod => authFactories[cfg.type](cfg, deps);

/** Filesystem checks for the `auth:` block of a raw (not yet validated) document. */
export const checkAuth = (rawAuth: unknown, deps: AuthDeps = {}): PathProblem[] => {
  if (!rawAuth || typeof rawAuth !== "object") return [];
  const a = rawAuth as { type?: unknown; config?: unknown };
  if (typeof a.type !== "string" || !(a.type in authChecks) || !a.config || typeof a.config !== "object") return [];
  return authChecks[a.type as AuthConfig["type"]](a.config as Record<string, unknown>, ["auth", "config"], deps);
};
