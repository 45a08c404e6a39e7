import { createPrivateKey, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { systemClock } from "../../core/clock.js";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";
import { checkFiles, loginCall, readIdentityId, type WorkloadAuthDeps } from "./workload-common.js";

/**
 * GCP IAM auth: a JWT signed with the service account's key file (`sub` = the account, `aud` = identity id,
 * `kid` = the key id). The KMS verifies it against the account's published certificates.
 */

const Body = z.strictObject({ "identity-id": z.string().min(1), "service-account-key": z.string().min(1) });
export const GcpIamAuthConfig = z.strictObject({ type: z.literal("gcp-iam"), config: Body });
type Config = z.output<typeof GcpIamAuthConfig>;

const KeyFile = z.object({
  type: z.literal("service_account"),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  private_key_id: z.string().min(1),
});

/** 15 minutes: Infisical's own limit for this method, well inside the server's one hour. */
const LIFETIME_S = 900;

export const checkGcpIamAuth = (raw: Record<string, unknown>, base: (string | number)[]): PathProblem[] => checkFiles(raw, base, ["service-account-key"]);

export const readServiceAccountKey = (path: string) => {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`service-account-key: ${JSON.stringify(path)} is not a readable JSON key file (${(e as Error).message})`);
  }
  const r = KeyFile.safeParse(json);
  if (!r.success) throw new Error(`service-account-key: ${JSON.stringify(path)} is not a service account key: ${r.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  return { email: r.data.client_email, keyId: r.data.private_key_id, key: createPrivateKey(r.data.private_key) };
};

export const createGcpIamAuth = (cfg: Config, deps: WorkloadAuthDeps = {}): AuthMethod => {
  const identityId = readIdentityId(cfg.config["identity-id"]);
  const sa = readServiceAccountKey(cfg.config["service-account-key"]);
  const clock = deps.clock ?? systemClock;
  return {
    type: "gcp-iam",
    login: async (client, signal) => {
      const now = Math.floor(clock.now() / 1000);
      const { SignJWT } = await import("jose"); // loaded on first use, like the other optional methods' libraries
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: "RS256", kid: sa.keyId, typ: "JWT" })
        .setIssuer(sa.email).setSubject(sa.email).setAudience(identityId)
        .setIssuedAt(now).setExpirationTime(now + LIFETIME_S).setJti(randomUUID())
        .sign(sa.key);
      return loginCall(client, "gcpAuthLogin")({ identityId, jwt }, { signal });
    },
  };
};
