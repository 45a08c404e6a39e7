import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
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

/**
 * Checks that the key is the certificate's before they are offered in a TLS handshake: a mismatch would otherwise
 * surface as "cannot reach the KMS (ERR_OSSL_X509_KEY_VALUES_MISMATCH …)". `where` names the two as the caller knows them (config keys or flags).
 */
export const checkKeyPair = (cert: string, key: string, where: { certificate: string; privateKey: string; certPath: string; keyPath: string }) => {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new Error(`${where.certificate}: file ${JSON.stringify(where.certPath)} is not a PEM certificate`);
  }
  let k: KeyObject;
  try {
    k = createPrivateKey(key);
  } catch {
    throw new Error(`${where.privateKey}: file ${JSON.stringify(where.keyPath)} is not a PEM private key`);
  }
  if (!x509.checkPrivateKey(k))
    throw new Error(`${where.privateKey}: file ${JSON.stringify(where.keyPath)} is not the private key of the certificate in ${JSON.stringify(where.certPath)}`);
};

export const createTlsCertAuth = (cfg: Config): AuthMethod => {
  const c = cfg.config;
  const identityId = readIdentityId(c["identity-id"]);
  for (const key of ["certificate", "private-key", "ca-certificate"] as const)
    if (c[key] !== undefined && !isFile(c[key]!)) throw new Error(`${key}: file ${JSON.stringify(c[key])} does not exist`);
  return {
    type: "tls-cert",
    login: async (client, signal) => {
      const cert = readRequiredFile(c.certificate, "certificate");
      const key = readRequiredFile(c["private-key"], "private-key");
      checkKeyPair(cert, key, { certificate: "certificate", privateKey: "private-key", certPath: c.certificate, keyPath: c["private-key"] });
      return loginCall(client, "tlsCertAuthLogin")({ identityId }, {
        cert, key, ...(c["ca-certificate"] ? { ca: readRequiredFile(c["ca-certificate"], "ca-certificate") } : {}),
      }, { signal });
    },
  };
};
