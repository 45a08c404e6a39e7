import { z } from "zod";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";
import { checkFiles, isFile, loginCall, readIdentityId, readRequiredFile } from "./workload-common.js";

/**
 * TLS certificate auth (ours): log in over mTLS with a certificate the KMS issued, typically the very certificate
 * the cert agent keeps renewed, so after bootstrap a host holds no universal-auth secret. The files are read at
 * every login, so a renewed certificate is used as soon as it is written.
 */

const Body = z.strictObject({
  "identity-id": z.string().min(1),
  certificate: z.string().min(1),
  "private-key": z.string().min(1),
  // CA bundle to trust the KMS server's own certificate, when it is not in the system store.
  "ca-certificate": z.string().min(1).optional(),
});
export const TlsCertAuthConfig = z.strictObject({ type: z.literal("tls-cert"), config: Body });
type Config = z.output<typeof TlsCertAuthConfig>;

export const checkTlsCertAuth = (raw: Record<string, unknown>, base: (string | number)[]): PathProblem[] =>
  checkFiles(raw, base, ["certificate", "private-key", "ca-certificate"]);

export const createTlsCertAuth = (cfg: Config): AuthMethod => {
  const c = cfg.config;
  const identityId = readIdentityId(c["identity-id"]);
  for (const key of ["certificate", "private-key", "ca-certificate"] as const)
    if (c[key] !== undefined && !isFile(c[key]!)) throw new Error(`${key}: file ${JSON.stringify(c[key])} does not exist`);
  return {
    type: "tls-cert",
    login: async (client, signal) =>
      loginCall(client, "tlsCertAuthLogin")({ identityId }, {
        cert: readRequiredFile(c.certificate, "certificate"),
        key: readRequiredFile(c["private-key"], "private-key"),
        ...(c["ca-certificate"] ? { ca: readRequiredFile(c["ca-certificate"], "ca-certificate") } : {}),
      }, { signal }),
  };
};
