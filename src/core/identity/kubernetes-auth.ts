import { X509Certificate } from "node:crypto";
import { Agent, request } from "undici";
import { BadRequestError } from "../errors.js";
import { commaList, LoginRefused, pick, type Configured, type WorkloadAuthKind } from "./workload-auth.js";

/**
 * Kubernetes auth (api.md 2.6): the agent sends its service-account token; we ask the cluster's TokenReview
 * API whether it is valid (the API server knows revoked and bound tokens, local JWT checks would not), then
 * check namespace, service-account name and audience against the identity's lists.
 */

export interface KubernetesConfig {
  kubernetesHost: string | null;
  caCert: string;
  tokenReviewMode: "api";
  allowedNamespaces: string;
  allowedNames: string;
  allowedAudience: string;
}
export interface KubernetesSecrets { tokenReviewerJwt?: string }

const TIMEOUT_MS = 10_000;
const SA_PREFIX = "system:serviceaccount:";

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; uid?: string };
}

/**
 * Every certificate of the bundle must parse: TLS silently drops a PEM block it cannot read, and the login would
 * then fail later with "self-signed certificate" instead of the attach naming the field.
 */
const checkCaCert = (pem: string) => {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new BadRequestError("caCert: expected a PEM certificate (-----BEGIN CERTIFICATE-----)");
  blocks.forEach((b, i) => {
    try {
      new X509Certificate(b);
    } catch {
      throw new BadRequestError(`caCert: certificate ${i + 1} of the bundle is not a valid PEM certificate`);
    }
  });
};

export const kubernetesAuthKind = (): WorkloadAuthKind<KubernetesConfig, KubernetesSecrets, { jwt: string }> => ({
  method: "kubernetes",
  title: "Kubernetes auth",
  tokenAuthMethod: "kubernetes-auth",

  configure: (input, existing) => {
    const e = existing?.config;
    if (input.tokenReviewMode === "gateway") throw new BadRequestError('tokenReviewMode: "gateway" is not supported by this server; use "api"');
    const config: KubernetesConfig = {
      kubernetesHost: pick(input, "kubernetesHost", e?.kubernetesHost, null),
      caCert: pick(input, "caCert", e?.caCert, ""),
      tokenReviewMode: "api",
      allowedNamespaces: pick(input, "allowedNamespaces", e?.allowedNamespaces, ""),
      allowedNames: pick(input, "allowedNames", e?.allowedNames, ""),
      allowedAudience: pick(input, "allowedAudience", e?.allowedAudience, ""),
    };
    if (!config.kubernetesHost) throw new BadRequestError('kubernetesHost: is required when tokenReviewMode is "api"');
    try {
      const u = new URL(config.kubernetesHost);
      if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
    } catch {
      throw new BadRequestError(`kubernetesHost: "${config.kubernetesHost}" is not an http(s) URL`);
    }
    if (config.caCert) checkCaCert(config.caCert);
    const reviewer = input.tokenReviewerJwt !== undefined ? (input.tokenReviewerJwt as string) : existing?.secrets?.tokenReviewerJwt;
    return { config, secrets: reviewer ? { tokenReviewerJwt: reviewer } : null };
  },

  view: ({ config, secrets }: Configured<KubernetesConfig, KubernetesSecrets>) => ({
    ...config,
    // The reviewer JWT is a cluster credential: we say whether one is set, never what it is.
    tokenReviewerJwtSet: !!secrets?.tokenReviewerJwt,
  }),

  verify: async (_identityId, { config, secrets }, { jwt }) => {
    const aud = config.allowedAudience.trim();
    const url = `${config.kubernetesHost!.replace(/\/+$/, "")}/apis/authentication.k8s.io/v1/tokenreviews`;
    // Without a reviewer JWT the workload's own token reviews itself (needs system:auth-delegator on it).
    const bearer = secrets?.tokenReviewerJwt || jwt;
    const dispatcher = config.caCert ? new Agent({ connect: { ca: config.caCert } }) : undefined;
    let status: TokenReviewStatus;
    try {
      const res = await request(url, {
        method: "POST", dispatcher, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS,
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token: jwt, ...(aud ? { audiences: [aud] } : {}) } }),
      });
      const text = await res.body.text();
      if (res.statusCode === 401 || res.statusCode === 403)
        throw new LoginRefused(`the Kubernetes API refused the TokenReview (${res.statusCode}): check the identity's token reviewer JWT and its permissions`);
      if (res.statusCode < 200 || res.statusCode >= 300) throw new LoginRefused(`the Kubernetes TokenReview API answered ${res.statusCode}`);
      try {
        status = ((JSON.parse(text) as { status?: TokenReviewStatus }).status ?? {});
      } catch {
        throw new LoginRefused("the Kubernetes TokenReview API did not answer JSON");
      }
    } catch (e) {
      if (e instanceof LoginRefused) throw e;
      throw new LoginRefused(`could not reach the Kubernetes API at ${config.kubernetesHost}: ${(e as Error).message}`);
    } finally {
      void dispatcher?.close();
    }
    if (!status.authenticated) throw new LoginRefused(`the Kubernetes API did not authenticate the token${status.error ? `: ${status.error}` : ""}`);
    const username = status.user?.username ?? "";
    if (!username.startsWith(SA_PREFIX)) throw new LoginRefused(`the token belongs to "${username}", not to a service account`);
    const [namespace = "", name = ""] = username.slice(SA_PREFIX.length).split(":");
    const namespaces = commaList(config.allowedNamespaces);
    if (namespaces.length && !namespaces.includes(namespace)) throw new LoginRefused(`namespace "${namespace}" is not allowed`);
    const names = commaList(config.allowedNames);
    if (names.length && !names.includes(name)) throw new LoginRefused(`service account "${name}" is not allowed`);
    if (aud && !(status.audiences ?? []).includes(aud)) throw new LoginRefused(`wrong audience: the token is not meant for "${aud}"`);
    return { namespace, serviceAccount: name };
  },
});
