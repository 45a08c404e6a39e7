import type { Clock } from "../clock.js";
import { BadRequestError } from "../errors.js";
import { commaList, LoginRefused, pick, type WorkloadAuthKind } from "./workload-auth.js";
import { remoteJwks, verifyJwt } from "./workload-jwt.js";

/**
 * Azure auth (api.md 2.6): a managed-identity access token from IMDS, verified against the tenant's published
 * Entra keys, issuer and audience (`resource`); `oid` is the managed identity's service principal object id.
 */

export interface AzureConfig { tenantId: string; resource: string; allowedServicePrincipalIds: string; jwksUrl: string }

export const azureJwksUrl = (tenant: string) => `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/discovery/v2.0/keys`;

// IMDS hands out v1 tokens (sts.windows.net issuer) unless the app registration asks for v2: accept both.
const issuersOf = (tenant: string) => [`https://sts.windows.net/${tenant}/`, `https://login.microsoftonline.com/${tenant}/v2.0`];

/** Entra writes `aud` exactly as the resource was requested; trailing slashes vary between SDKs. */
const audiencesOf = (resource: string) => {
  const bare = resource.replace(/\/+$/, "");
  return [...new Set([resource, bare, `${bare}/`])];
};

export const azureAuthKind = ({ clock }: { clock: Clock }): WorkloadAuthKind<AzureConfig, never, { jwt: string }> => ({
  method: "azure",
  title: "Azure auth",
  tokenAuthMethod: "azure-auth",

  configure: (input, existing) => {
    const e = existing?.config;
    const tenantId = pick(input, "tenantId", e?.tenantId, "");
    const config: AzureConfig = {
      tenantId,
      resource: pick(input, "resource", e?.resource, ""),
      allowedServicePrincipalIds: pick(input, "allowedServicePrincipalIds", e?.allowedServicePrincipalIds, ""),
      // The default follows the tenant unless an override was stored.
      jwksUrl: input.jwksUrl !== undefined ? (input.jwksUrl as string) : e && e.jwksUrl !== azureJwksUrl(e.tenantId) ? e.jwksUrl : azureJwksUrl(tenantId),
    };
    if (!config.tenantId) throw new BadRequestError("tenantId: is required");
    if (!config.resource) throw new BadRequestError("resource: is required (the audience the managed-identity token is requested for)");
    try {
      if (!/^https?:$/.test(new URL(config.jwksUrl).protocol)) throw new Error();
    } catch {
      throw new BadRequestError(`jwksUrl: "${config.jwksUrl}" is not an http(s) URL`);
    }
    return { config, secrets: null };
  },

  view: ({ config }) => ({ ...config }),

  verify: async (_identityId, { config }, { jwt }) => {
    const claims = await verifyJwt(jwt, remoteJwks(config.jwksUrl), {
      audience: audiencesOf(config.resource), issuer: issuersOf(config.tenantId), clock, required: ["oid"],
    });
    if (claims.tid !== undefined && claims.tid !== config.tenantId) throw new LoginRefused(`tenant "${String(claims.tid)}" is not the identity's tenant`);
    const oid = String(claims.oid);
    const allowed = commaList(config.allowedServicePrincipalIds);
    if (allowed.length && !allowed.includes(oid)) throw new LoginRefused(`service principal ${oid} is not allowed`);
    return { servicePrincipalId: oid, appId: claims.appid ?? claims.azp };
  },
});
