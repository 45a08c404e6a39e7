import { request } from "undici";
import { BadRequestError } from "../errors.js";
import { commaList, LoginRefused, pick, wildcardMatch, type WorkloadAuthKind } from "./workload-auth.js";

/**
 * AWS IAM auth (api.md 2.6): the agent signs `sts:GetCallerIdentity` with SigV4 and hands us the signed request.
 * We do not verify the signature ourselves: we replay the request to STS, which answers with the caller's ARN
 * only if the signature is good. The endpoint is the identity's `stsEndpoint`, never one the caller names.
 */

export interface AwsConfig { stsEndpoint: string; allowedPrincipalArns: string; allowedAccountIds: string }
export interface AwsLoginInput { iamHttpRequestMethod: string; iamRequestBody: string; iamRequestHeaders: string }

const TIMEOUT_MS = 10_000;
// undici refuses these as request headers (hop-by-hop); STS does not sign them either.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "expect", "content-length"]);

const tag = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1]?.trim();

/** `arn:aws:sts::123:assumed-role/Role/session` is the role `arn:aws:iam::123:role/Role` for matching. */
export const normalizeArn = (arn: string): string => {
  const m = /^arn:([^:]+):sts::(\d+):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
};

const decode = (b64: string, what: string): string => {
  const s = Buffer.from(b64, "base64").toString("utf8");
  if (!s) throw new LoginRefused(`${what} is empty or not base64`);
  return s;
};

export const awsAuthKind = (): WorkloadAuthKind<AwsConfig, never, AwsLoginInput> => ({
  method: "aws",
  title: "AWS auth",
  tokenAuthMethod: "aws-auth",

  configure: (input, existing) => {
    const e = existing?.config;
    const config: AwsConfig = {
      stsEndpoint: pick(input, "stsEndpoint", e?.stsEndpoint, "https://sts.amazonaws.com/"),
      allowedPrincipalArns: pick(input, "allowedPrincipalArns", e?.allowedPrincipalArns, ""),
      allowedAccountIds: pick(input, "allowedAccountIds", e?.allowedAccountIds, ""),
    };
    try {
      if (!/^https?:$/.test(new URL(config.stsEndpoint).protocol)) throw new Error();
    } catch {
      throw new BadRequestError(`stsEndpoint: "${config.stsEndpoint}" is not an http(s) URL`);
    }
    for (const id of commaList(config.allowedAccountIds))
      if (!/^\d{12}$/.test(id)) throw new BadRequestError(`allowedAccountIds: "${id}" is not a 12-digit AWS account id`);
    for (const arn of commaList(config.allowedPrincipalArns))
      if (!arn.startsWith("arn:")) throw new BadRequestError(`allowedPrincipalArns: "${arn}" is not an ARN`);
    return { config, secrets: null };
  },

  view: ({ config }) => ({ type: "iam", ...config }),

  verify: async (_identityId, { config }, input) => {
    // GetCallerIdentity is signed as a form POST by every client (SDKs, the CLI, our agent); anything else would
    // come back from STS as a signature mismatch, or as "could not reach STS" for a method undici cannot send.
    const method = (input.iamHttpRequestMethod || "POST").toUpperCase();
    if (method !== "POST") throw new LoginRefused(`iamHttpRequestMethod: "${input.iamHttpRequestMethod}" is not supported; sts:GetCallerIdentity is signed as a POST`);
    const body = decode(input.iamRequestBody, "iamRequestBody");
    const params = new URLSearchParams(body);
    if (params.get("Action") !== "GetCallerIdentity") throw new LoginRefused("the signed request is not sts:GetCallerIdentity");
    let raw: unknown;
    try {
      raw = JSON.parse(decode(input.iamRequestHeaders, "iamRequestHeaders"));
    } catch (e) {
      throw e instanceof LoginRefused ? e : new LoginRefused("iamRequestHeaders is not base64 of a JSON object");
    }
    // JSON.parse also yields null, arrays, strings and numbers: only an object maps header names to values.
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new LoginRefused("iamRequestHeaders is not base64 of a JSON object");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (HOP_BY_HOP.has(k.toLowerCase())) continue;
      headers[k] = Array.isArray(v) ? v.join(",") : String(v);
    }
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "authorization")) throw new LoginRefused("the request carries no SigV4 Authorization header");
    let status: number;
    let xml: string;
    try {
      const res = await request(config.stsEndpoint, {
        method: "POST", headers, body, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS,
      });
      status = res.statusCode;
      xml = await res.body.text();
    } catch (e) {
      throw new LoginRefused(`could not reach AWS STS at ${config.stsEndpoint}: ${(e as Error).message}`);
    }
    if (status !== 200) {
      const code = tag(xml, "Code");
      const message = tag(xml, "Message");
      throw new LoginRefused(`AWS STS refused the signed request (${status}${code ? ` ${code}` : ""})${message ? `: ${message}` : ""}`);
    }
    const arn = tag(xml, "Arn");
    const account = tag(xml, "Account");
    if (!arn || !account) throw new LoginRefused("AWS STS answered without an Arn and Account");
    const accounts = commaList(config.allowedAccountIds);
    if (accounts.length && !accounts.includes(account)) throw new LoginRefused(`account ${account} is not allowed`);
    const principal = normalizeArn(arn);
    const arns = commaList(config.allowedPrincipalArns);
    if (arns.length && !arns.some((p) => wildcardMatch(p, principal) || wildcardMatch(p, arn)))
      throw new LoginRefused(`principal ${principal} is not allowed`);
    return { arn, account, userId: tag(xml, "UserId") };
  },
});
