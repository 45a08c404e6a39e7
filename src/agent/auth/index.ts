import { z } from "zod";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";
import { checkUniversalAuth, createUniversalAuth, UniversalAuthConfig } from "./universal-auth.js";
import type { UniversalAuthDeps } from "./universal-auth.js";
import { checkKubernetesAuth, createKubernetesAuth, KubernetesAuthAliasConfig, KubernetesAuthConfig } from "./kubernetes.js";
import { AzureAuthAliasConfig, AzureAuthConfig, checkAzureAuth, createAzureAuth } from "./azure.js";
import { checkGcpIdTokenAuth, createGcpIdTokenAuth, GcpIdTokenAuthConfig } from "./gcp-id-token.js";
import { checkGcpIamAuth, createGcpIamAuth, GcpIamAuthConfig } from "./gcp-iam.js";
import { AwsIamAuthConfig, checkAwsIamAuth, createAwsIamAuth } from "./aws-iam.js";
import { checkTlsCertAuth, createTlsCertAuth, TlsCertAuthConfig } from "./tls-cert.js";
import type { WorkloadAuthDeps } from "./workload-common.js";

/**
 * The auth registry: a typed record keyed by `auth.type` (STYLE rule 7). Adding a method is one file
 * plus one member in the union and one entry here; forgetting the entry fails the build. Where the seeds spell a
 * type two ways (`kubernetes` / `kubernetes-auth`, `azure` / `azure-auth`) both are members.
 */

/** Types the seeds document that we do not implement; named so the error is clear. */
export const LATER_AUTH_TYPES = ["ldap-auth"] as const;

const SUPPORTED = [
  "universal-auth", "kubernetes", "kubernetes-auth", "azure", "azure-auth", "gcp-id-token", "gcp-iam", "aws-iam", "tls-cert",
] as const;
const supportedList = SUPPORTED.map((t) => JSON.stringify(t)).join(", ");

export const AuthConfig = z.discriminatedUnion(
  "type",
  [
    UniversalAuthConfig, KubernetesAuthConfig, KubernetesAuthAliasConfig, AzureAuthConfig, AzureAuthAliasConfig,
    GcpIdTokenAuthConfig, GcpIamAuthConfig, AwsIamAuthConfig, TlsCertAuthConfig,
  ],
  {
    error: (iss) => {
      if (iss.code !== "invalid_union") return undefined;
      const t = (iss.input as { type?: unknown } | undefined)?.type;
      if (t === undefined) return `is required (one of: ${supportedList})`;
      if ((LATER_AUTH_TYPES as readonly unknown[]).includes(t)) return `auth type ${JSON.stringify(t)} is not supported yet; supported: ${supportedList}`;
      return `unknown auth type ${JSON.stringify(t)}; supported: ${supportedList}`;
    },
  },
);
export type AuthConfig = z.output<typeof AuthConfig>;

export type AuthDeps = UniversalAuthDeps & WorkloadAuthDeps;

type AuthFactories = { [K in AuthConfig["type"]]: (cfg: Extract<AuthConfig, { type: K }>, deps: AuthDeps) => AuthMethod };
const authFactories: AuthFactories = {
  "universal-auth": createUniversalAuth,
  kubernetes: createKubernetesAuth,
  "kubernetes-auth": createKubernetesAuth,
  azure: createAzureAuth,
  "azure-auth": createAzureAuth,
  "gcp-id-token": createGcpIdTokenAuth,
  "gcp-iam": createGcpIamAuth,
  "aws-iam": createAwsIamAuth,
  "tls-cert": createTlsCertAuth,
};

type AuthChecks = { [K in AuthConfig["type"]]: (rawConfig: Record<string, unknown>, path: (string | number)[], deps: AuthDeps) => PathProblem[] };
const authChecks: AuthChecks = {
  "universal-auth": checkUniversalAuth,
  kubernetes: checkKubernetesAuth,
  "kubernetes-auth": checkKubernetesAuth,
  azure: checkAzureAuth,
  "azure-auth": checkAzureAuth,
  "gcp-id-token": checkGcpIdTokenAuth,
  "gcp-iam": checkGcpIamAuth,
  "aws-iam": checkAwsIamAuth,
  "tls-cert": checkTlsCertAuth,
};

// The record is keyed by the discriminator, so the factory found for cfg.type always takes cfg.
export const createAuthMethod = (cfg: AuthConfig, deps: AuthDeps = {}): AuthMethod =>
  (authFactories[cfg.type] as (c: AuthConfig, d: AuthDeps) => AuthMethod)(cfg, deps);

/** Filesystem checks for the `auth:` block of a raw (not yet validated) document. */
export const checkAuth = (rawAuth: unknown, deps: AuthDeps = {}): PathProblem[] => {
  if (!rawAuth || typeof rawAuth !== "object") return [];
  const a = rawAuth as { type?: unknown; config?: unknown };
  if (typeof a.type !== "string" || !(a.type in authChecks) || !a.config || typeof a.config !== "object") return [];
  return authChecks[a.type as AuthConfig["type"]](a.config as Record<string, unknown>, ["auth", "config"], deps);
};
