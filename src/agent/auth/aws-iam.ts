import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { metadataRequest } from "./metadata-http.js";
import { systemClock } from "../../core/clock.js";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";
import { signGetCallerIdentity, type AwsCredentials } from "./aws-sigv4.js";
import { baseUrl, checkFiles, loginCall, readIdentityId, type WorkloadAuthDeps } from "./workload-common.js";

/**
 * AWS IAM auth: sign sts:GetCallerIdentity with the usual credential chain (environment, shared credentials file,
 * EC2 instance metadata with IMDSv2) and let the KMS replay it to STS. Endpoint overrides follow the AWS SDKs:
 * AWS_ENDPOINT_URL_STS (or AWS_STS_ENDPOINT) and AWS_EC2_METADATA_SERVICE_ENDPOINT.
 */

const Body = z.strictObject({ "identity-id": z.string().min(1) });
export const AwsIamAuthConfig = z.strictObject({ type: z.literal("aws-iam"), config: Body });
type Config = z.output<typeof AwsIamAuthConfig>;

const TIMEOUT_MS = 5_000;

export const checkAwsIamAuth = (raw: Record<string, unknown>, base: (string | number)[]): PathProblem[] => checkFiles(raw, base, []);

/** The `[profile]` section of an INI credentials file. */
export const parseCredentialsFile = (text: string, profile: string): AwsCredentials | undefined => {
  let section = "";
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith("#") || t.startsWith(";")) continue;
    const h = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(t);
    if (h) { section = h[1]!; continue; }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(t);
    if (kv && section === profile) values[kv[1]!.toLowerCase()] = kv[2]!;
  }
  if (!values.aws_access_key_id || !values.aws_secret_access_key) return undefined;
  return { accessKeyId: values.aws_access_key_id, secretAccessKey: values.aws_secret_access_key, ...(values.aws_session_token ? { sessionToken: values.aws_session_token } : {}) };
};

const imds = async (env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<{ credentials: AwsCredentials; region?: string }> => {
  const host = baseUrl(env.AWS_EC2_METADATA_SERVICE_ENDPOINT || "http://169.254.169.254");
  const get = async (path: string, headers: Record<string, string>, method: "GET" | "PUT" = "GET") => {
    const res = await metadataRequest(`${host}${path}`, { method, headers, signal, timeoutMs: TIMEOUT_MS });
    const text = res.text;
    if (res.statusCode !== 200) throw new Error(`${method} ${path} answered ${res.statusCode}`);
    return text.trim();
  };
  try {
    // IMDSv2: a session token first; v1 (token-less) requests are refused on hardened instances.
    const token = await get("/latest/api/token", { "X-aws-ec2-metadata-token-ttl-seconds": "21600" }, "PUT");
    const h = { "X-aws-ec2-metadata-token": token };
    const role = (await get("/latest/meta-data/iam/security-credentials/", h)).split("\n")[0]!.trim();
    if (!role) throw new Error("the instance has no IAM role");
    const c = JSON.parse(await get(`/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`, h)) as Record<string, string>;
    if (!c.AccessKeyId || !c.SecretAccessKey) throw new Error("the role credentials are incomplete");
    const region = await get("/latest/meta-data/placement/region", h).catch(() => undefined);
    return { credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.Token ? { sessionToken: c.Token } : {}) }, region };
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new Error(`aws-iam: no credentials in the environment or the shared credentials file, and the instance metadata service at ${host} gave none (${(e as Error).message})`);
  }
};

/** The credential chain of the AWS SDKs, in their order; the first source that has credentials wins. */
export const resolveAwsCredentials = async (env: NodeJS.ProcessEnv, home: string, signal?: AbortSignal): Promise<{ credentials: AwsCredentials; region?: string; source: string }> => {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)
    return { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }, source: "environment" };
  const file = env.AWS_SHARED_CREDENTIALS_FILE || join(home, ".aws", "credentials");
  const profile = env.AWS_PROFILE || "default";
  let text: string | undefined;
  try { text = readFileSync(file, "utf8"); } catch { /* no file: next source */ }
  const fromFile = text !== undefined ? parseCredentialsFile(text, profile) : undefined;
  if (fromFile) return { credentials: fromFile, source: `${file} [${profile}]` };
  if (env.AWS_EC2_METADATA_DISABLED === "true") throw new Error(`aws-iam: no credentials in the environment or in ${file} [${profile}], and AWS_EC2_METADATA_DISABLED is set`);
  return { ...(await imds(env, signal)), source: "instance metadata" };
};

export const createAwsIamAuth = (cfg: Config, deps: WorkloadAuthDeps = {}): AuthMethod => {
  const identityId = readIdentityId(cfg.config["identity-id"]);
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? systemClock;
  const home = deps.homeDir ?? homedir();
  return {
    type: "aws-iam",
    login: async (client, signal) => {
      const { credentials, region: imdsRegion } = await resolveAwsCredentials(env, home, signal);
      const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || imdsRegion || "us-east-1";
      const endpoint = env.AWS_ENDPOINT_URL_STS || env.AWS_STS_ENDPOINT || `https://sts.${region}.amazonaws.com/`;
      const signed = await signGetCallerIdentity(endpoint, region, credentials, new Date(clock.now()));
      return loginCall(client, "awsIamAuthLogin")({ identityId, ...signed }, { signal });
    },
  };
};
