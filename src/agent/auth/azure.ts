import { z } from "zod";
import { metadataRequest } from "./metadata-http.js";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";
import { baseUrl, checkFiles, loginCall, readIdentityId, type WorkloadAuthDeps } from "./workload-common.js";

/**
 * Azure auth: a managed-identity access token from the instance metadata service (IMDS) for `resource`, sent to
 * the KMS which verifies it against the tenant's keys. AZURE_IMDS_ENDPOINT overrides http://169.254.169.254.
 */

export const DEFAULT_AZURE_RESOURCE = "https://management.azure.com/";

/** Which managed identity IMDS should answer for, when the VM has several: the IMDS query parameter of each key. */
const SELECTORS = { "managed-identity-client-id": "client_id", "managed-identity-object-id": "object_id", "managed-identity-resource-id": "msi_res_id" } as const;

const Body = z.strictObject({
  "identity-id": z.string().min(1),
  // Must equal the `resource` configured on the identity's Azure auth.
  resource: z.string().min(1).optional(),
  // A user-assigned managed identity, by one of its ids; without one, IMDS answers for the system-assigned identity.
  "managed-identity-client-id": z.string().min(1).optional(),
  "managed-identity-object-id": z.string().min(1).optional(),
  "managed-identity-resource-id": z.string().min(1).optional(),
}).superRefine((c, ctx) => {
  const given = Object.keys(SELECTORS).filter((k) => c[k as keyof typeof SELECTORS] !== undefined);
  if (given.length > 1) ctx.addIssue({ code: "custom", path: [given[1]!], message: `give one of ${given.join(", ")}, not several: they all name the managed identity` });
});
export const AzureAuthConfig = z.strictObject({ type: z.literal("azure"), config: Body });
export const AzureAuthAliasConfig = z.strictObject({ type: z.literal("azure-auth"), config: Body });
type Config = { config: z.output<typeof Body> };

const TIMEOUT_MS = 10_000;

export const checkAzureAuth = (raw: Record<string, unknown>, base: (string | number)[]): PathProblem[] => checkFiles(raw, base, []);

/** `managedIdentity`: IMDS's selector of a user-assigned identity (`client_id`, `object_id` or `msi_res_id`) and its value. */
export const fetchManagedIdentityToken = async (resource: string, env: NodeJS.ProcessEnv, signal?: AbortSignal, managedIdentity?: [string, string]): Promise<string> => {
  const host = baseUrl(env.AZURE_IMDS_ENDPOINT || "http://169.254.169.254");
  const select = managedIdentity ? `&${managedIdentity[0]}=${encodeURIComponent(managedIdentity[1])}` : "";
  const url = `${host}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(resource)}${select}`;
  let res;
  try {
    res = await metadataRequest(url, { headers: { Metadata: "true" }, signal, timeoutMs: TIMEOUT_MS });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new Error(`azure: cannot reach the instance metadata service at ${host} (${(e as Error).message}); is the agent running on Azure with a managed identity?`);
  }
  const text = res.text;
  if (res.statusCode !== 200) throw new Error(`azure: IMDS answered ${res.statusCode}: ${text.slice(0, 200)}`);
  let answer: { access_token?: string } | null;
  try {
    answer = JSON.parse(text) as { access_token?: string } | null;
  } catch {
    throw new Error(`azure: the instance metadata service at ${host} answered 200 with something that is not JSON: ${text.slice(0, 100)}`);
  }
  const token = answer?.access_token;
  if (!token) throw new Error("azure: IMDS answered without an access_token");
  return token;
};

export const createAzureAuth = (cfg: Config, deps: WorkloadAuthDeps = {}): AuthMethod => {
  const identityId = readIdentityId(cfg.config["identity-id"]);
  const resource = cfg.config.resource ?? DEFAULT_AZURE_RESOURCE;
  const env = deps.env ?? process.env;
  const key = (Object.keys(SELECTORS) as (keyof typeof SELECTORS)[]).find((k) => cfg.config[k] !== undefined);
  const managedIdentity: [string, string] | undefined = key ? [SELECTORS[key], cfg.config[key]!] : undefined;
  return {
    type: "azure",
    login: async (client, signal) => loginCall(client, "azureAuthLogin")({ identityId, jwt: await fetchManagedIdentityToken(resource, env, signal, managedIdentity) }, { signal }),
  };
};
