import type { Clock } from "../clock.js";
import { BadRequestError } from "../errors.js";
import { commaList, LoginRefused, pick, type WorkloadAuthKind } from "./workload-auth.js";
import { peekJwt, remoteJwks, verifyJwt, x509KeyMap } from "./workload-jwt.js";

/**
 * GCP auth (api.md 2.6), two kinds of proof:
 * - gce: an instance identity token from the metadata server, signed by Google (its OAuth JWKS), audience = identity id,
 *   with the instance's project and zone in `google.compute_engine`;
 * - iam: a JWT the service account signed itself with its key; checked against that account's published
 *   certificates, so a deleted or disabled key stops working.
 */

export interface GcpConfig {
  type: "gce" | "iam";
  allowedServiceAccounts: string;
  allowedProjects: string;
  allowedZones: string;
  /** Google's OAuth signing keys (gce); overridable for tests and private deployments. */
  jwksUrl: string;
  /** Where a service account's certificates are published (iam); `{email}` is replaced by the account. */
  serviceAccountKeysUrl: string;
}

export const GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs";
export const GOOGLE_SA_KEYS_URL = "https://www.googleapis.com/service_accounts/v1/metadata/x509/{email}";
const GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"];
// Google's own IAM signJwt caps self-signed JWTs at one hour; we allow no more.
const IAM_MAX_LIFETIME_S = 3600;

interface ComputeEngineClaims { project_id?: string; zone?: string; instance_id?: string; instance_name?: string }

const checkUrl = (field: string, v: string) => {
  try {
    if (!/^https?:$/.test(new URL(v.replace("{email}", "x")).protocol)) throw new Error();
  } catch {
    throw new BadRequestError(`${field}: "${v}" is not an http(s) URL`);
  }
};

/** `name@project.iam.gserviceaccount.com` → `project`. */
const projectOfServiceAccount = (email: string): string | undefined => /@([^.]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1];

export const gcpAuthKind = ({ clock }: { clock: Clock }): WorkloadAuthKind<GcpConfig, never, { jwt: string }> => ({
  method: "gcp",
  title: "GCP auth",
  tokenAuthMethod: "gcp-auth",

  configure: (input, existing) => {
    const e = existing?.config;
    const config: GcpConfig = {
      type: pick(input, "type", e?.type, undefined as unknown as "gce"),
      allowedServiceAccounts: pick(input, "allowedServiceAccounts", e?.allowedServiceAccounts, ""),
      allowedProjects: pick(input, "allowedProjects", e?.allowedProjects, ""),
      allowedZones: pick(input, "allowedZones", e?.allowedZones, ""),
      jwksUrl: pick(input, "jwksUrl", e?.jwksUrl, GOOGLE_JWKS_URL),
      serviceAccountKeysUrl: pick(input, "serviceAccountKeysUrl", e?.serviceAccountKeysUrl, GOOGLE_SA_KEYS_URL),
    };
    if (config.type !== "gce" && config.type !== "iam") throw new BadRequestError('type: is required, "gce" or "iam"');
    checkUrl("jwksUrl", config.jwksUrl);
    checkUrl("serviceAccountKeysUrl", config.serviceAccountKeysUrl);
    return { config, secrets: null };
  },

  view: ({ config }) => ({ ...config }),

  verify: async (identityId, { config }, { jwt }) => {
    const accounts = commaList(config.allowedServiceAccounts);
    const projects = commaList(config.allowedProjects);
    if (config.type === "gce") {
      const claims = await verifyJwt(jwt, remoteJwks(config.jwksUrl), { audience: identityId, issuer: GOOGLE_ISSUERS, clock, required: ["email"] });
      const email = String(claims.email);
      const gce = ((claims.google as { compute_engine?: ComputeEngineClaims } | undefined)?.compute_engine ?? {});
      if (accounts.length && !accounts.includes(email)) throw new LoginRefused(`service account ${email} is not allowed`);
      if (projects.length && !projects.includes(gce.project_id ?? "")) throw new LoginRefused(`project "${gce.project_id ?? "(none)"}" is not allowed`);
      const zones = commaList(config.allowedZones);
      if (zones.length && !zones.includes(gce.zone ?? "")) throw new LoginRefused(`zone "${gce.zone ?? "(none)"}" is not allowed (the token must be requested with format=full)`);
      return { type: "gce", serviceAccount: email, project: gce.project_id, zone: gce.zone, instance: gce.instance_name };
    }
    // iam: find the account the JWT claims to be, then verify it against that account's own certificates.
    const { payload } = peekJwt(jwt);
    const email = typeof payload.sub === "string" ? payload.sub : "";
    if (!email.includes("@")) throw new LoginRefused("the token's sub is not a service account e-mail");
    // The allow-lists first: an unauthenticated caller must not make the server fetch keys (and cache them) for
    // any account it names. Refusing before the signature check tells the caller only about the account it named.
    if (accounts.length && !accounts.includes(email)) throw new LoginRefused(`service account ${email} is not allowed`);
    const project = projectOfServiceAccount(email);
    if (projects.length && !projects.includes(project ?? "")) throw new LoginRefused(`project "${project ?? "(unknown)"}" is not allowed`);
    const url = config.serviceAccountKeysUrl.includes("{email}")
      ? config.serviceAccountKeysUrl.replace("{email}", encodeURIComponent(email))
      : `${config.serviceAccountKeysUrl.replace(/\/+$/, "")}/${encodeURIComponent(email)}`;
    await verifyJwt(jwt, x509KeyMap(url, clock), { audience: identityId, clock, maxLifetimeSeconds: IAM_MAX_LIFETIME_S });
    return { type: "iam", serviceAccount: email, project };
  },
});
