import { z } from "zod";
import { metadataRequest } from "./metadata-http.js";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";
import { baseUrl, checkFiles, loginCall, readIdentityId, type WorkloadAuthDeps } from "./workload-common.js";

/**
 * GCP ID token auth: the instance's identity token from the metadata server, minted for audience = identity id,
 * `format=full` so the KMS sees project and zone. GCE_METADATA_HOST (host[:port]) overrides the server, as
 * Google's own client libraries allow.
 */

const Body = z.strictObject({ "identity-id": z.string().min(1) });
export const GcpIdTokenAuthConfig = z.strictObject({ type: z.literal("gcp-id-token"), config: Body });
type Config = z.output<typeof GcpIdTokenAuthConfig>;

const TIMEOUT_MS = 10_000;

export const checkGcpIdTokenAuth = (raw: Record<string, unknown>, base: (string | number)[]): PathProblem[] => checkFiles(raw, base, []);

export const fetchGceIdentityToken = async (audience: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string> => {
  const host = baseUrl(env.GCE_METADATA_HOST || "metadata.google.internal");
  const url = `${host}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${encodeURIComponent(audience)}&format=full`;
  let res;
  try {
    res = await metadataRequest(url, { headers: { "Metadata-Flavor": "Google" }, signal, timeoutMs: TIMEOUT_MS });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new Error(`gcp-id-token: cannot reach the metadata server at ${host} (${(e as Error).message}); is the agent running on GCE?`);
  }
  const text = res.text.trim();
  if (res.statusCode !== 200) throw new Error(`gcp-id-token: the metadata server answered ${res.statusCode}: ${text.slice(0, 200)}`);
  return text;
};

export const createGcpIdTokenAuth = (cfg: Config, deps: WorkloadAuthDeps = {}): AuthMethod => {
  const identityId = readIdentityId(cfg.config["identity-id"]);
  const env = deps.env ?? process.env;
  return {
    type: "gcp-id-token",
    login: async (client, signal) => loginCall(client, "gcpAuthLogin")({ identityId, jwt: await fetchGceIdentityToken(identityId, env, signal) }, { signal }),
  };
};
