import { z } from "zod";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";
import { checkFiles, isFile, loginCall, readIdentityId, readRequiredFile } from "./workload-common.js";

/**
 * Kubernetes auth: the pod's service-account token, sent to the KMS which runs a TokenReview. Seed 003 spells the
 * type `kubernetes` and the key `service-account-token`, seed 001 `kubernetes-auth` and `service-account-token-path`.
 */

export const DEFAULT_SA_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token";

const Body = z.strictObject({
  "identity-id": z.string().min(1),
  "service-account-token": z.string().min(1).optional(),
  "service-account-token-path": z.string().min(1).optional(),
});
export const KubernetesAuthConfig = z.strictObject({ type: z.literal("kubernetes"), config: Body });
export const KubernetesAuthAliasConfig = z.strictObject({ type: z.literal("kubernetes-auth"), config: Body });
type Config = { config: z.output<typeof Body> };

const tokenPath = (c: z.output<typeof Body>) => c["service-account-token-path"] ?? c["service-account-token"] ?? DEFAULT_SA_TOKEN_PATH;

export const checkKubernetesAuth = (raw: Record<string, unknown>, base: (string | number)[]): PathProblem[] => {
  const problems = checkFiles(raw, base, ["service-account-token", "service-account-token-path"]);
  // The default path is checked as well: outside a pod, the start would pass and the first login fail.
  if (raw["service-account-token"] === undefined && raw["service-account-token-path"] === undefined && !isFile(DEFAULT_SA_TOKEN_PATH)) {
    problems.push({
      path: [...base.slice(0, -1), "type"],
      message: `service-account token ${JSON.stringify(DEFAULT_SA_TOKEN_PATH)} (the default) does not exist: is the agent running in a pod with a mounted service account? Otherwise set service-account-token`,
    });
  }
  return problems;
};

export const createKubernetesAuth = (cfg: Config): AuthMethod => {
  const identityId = readIdentityId(cfg.config["identity-id"]);
  const path = tokenPath(cfg.config);
  if (!isFile(path)) throw new Error(`service-account-token: file ${JSON.stringify(path)} does not exist (is the agent running in a pod with a mounted service account?)`);
  return {
    type: "kubernetes",
    // Read at every login: projected service-account tokens are rotated by the kubelet.
    login: async (client, signal) => loginCall(client, "kubernetesAuthLogin")({ identityId, jwt: readRequiredFile(path, "service-account-token") }, { signal }),
  };
};
