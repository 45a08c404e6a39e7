/**
 * Turns an ACME POST into "which profile, which account, what payload" (RFC 8555 6.2-6.5): the profile must
 * use ACME enrollment, the JWS `url` must be the URL the request was sent to, a `kid` must name a valid
 * account of this profile, the signature must verify, and the nonce is spent last, so a forged request
 * cannot burn a client's nonce.
 */
import type { JWK } from "jose";
import type { PkiStore } from "../../store/pki.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { AcmeAccountTable, CertificateProfileTable } from "../../store/schema.js";
import type { StoredAcmeConfig } from "../pki/profile-service.js";
import { accountIdFromKid, acmeUrls, type AcmeUrls } from "./urls.js";
import { parseJws, verifyJws, type ProtectedHeader } from "./jws.js";
import type { NonceService } from "./nonces.js";
import { problem } from "./problem.js";

export interface AcmeContext {
  readonly profile: CertificateProfileTable;
  readonly config: StoredAcmeConfig;
  readonly urls: AcmeUrls;
}

export interface AuthenticatedRequest {
  readonly header: ProtectedHeader;
  readonly payload: Uint8Array;
  /** The key that signed: the account's key for `kid` requests, the header's for `jwk` requests. */
  readonly jwk: JWK;
  /** Set for `kid` requests. */
  readonly account?: AcmeAccountTable;
}

type Deps = {
  pki: Pick<PkiStore, "getProfile">;
  store: Pick<EnrollmentStore, "getAccount" | "getEab">;
  nonces: Pick<NonceService, "consume">;
  publicUrl: () => string;
};

const stripSlash = (u: string) => u.replace(/\/+$/, "");

export const acmeRequestsFactory = ({ pki, store, nonces, publicUrl }: Deps) => {
  /** The ACME server of one profile; any other profile id is a 404 (the route renders a problem document). */
  const context = async (profileId: string): Promise<AcmeContext> => {
    const profile = /^[0-9a-f-]{36}$/i.test(profileId) ? await pki.getProfile(profileId) : undefined;
    if (!profile || profile.enrollment_type !== "acme")
      throw problem("malformed", `No ACME directory for certificate profile ${profileId}`, { status: 404 });
    const config = profile.acme_config ? (JSON.parse(profile.acme_config) as StoredAcmeConfig) : { skipDnsOwnershipVerification: false, skipEabBinding: false };
    return { profile, config, urls: acmeUrls(publicUrl(), profile.id) };
  };

  /** A `kid` account that may act: it exists in this profile, is valid, and its EAB credential was not withdrawn. */
  const activeAccount = async (ctx: AcmeContext, kid: string): Promise<AcmeAccountTable> => {
    const id = accountIdFromKid(ctx.urls, kid);
    const account = id ? await store.getAccount(id) : undefined;
    if (!account || account.profile_id !== ctx.profile.id) throw problem("accountDoesNotExist", `No account ${kid} at this directory`);
    if (account.status !== "valid") throw problem("unauthorized", `Account ${kid} is ${account.status}`);
    if (account.eab_id && !ctx.config.skipEabBinding && !(await store.getEab(account.eab_id)))
      throw problem("unauthorized", "The external account binding of this account was withdrawn by an administrator");
    return account;
  };

  /**
   * Verifies a JWS request. `use` says which key form the resource needs (RFC 8555 6.2): newAccount is
   * signed with `jwk`, revocation with either, everything else with `kid`.
   */
  const authenticate = async (ctx: AcmeContext, body: unknown, requestUrl: string, use: "kid" | "jwk" | "either"): Promise<AuthenticatedRequest> => {
    const p = parseJws(body);
    if (stripSlash(p.header.url!) !== stripSlash(requestUrl))
      throw problem("unauthorized", `The JWS url ${JSON.stringify(p.header.url)} is not the URL of this request (${requestUrl})`);
    if (use === "kid" && p.header.kid === undefined) throw problem("malformed", "This resource needs a JWS signed with kid (the account URL), not jwk");
    if (use === "jwk" && p.header.jwk === undefined) throw problem("malformed", "This resource needs a JWS with jwk (the account key), not kid");
    const account = p.header.kid !== undefined ? await activeAccount(ctx, p.header.kid) : undefined;
    const jwk = account ? (JSON.parse(account.jwk) as JWK) : p.header.jwk!;
    const payload = await verifyJws(p, jwk);
    await nonces.consume(p.header.nonce!);
    return { header: p.header, payload, jwk, ...(account && { account }) };
  };

  return { context, authenticate, activeAccount };
};
export type AcmeRequests = ReturnType<typeof acmeRequestsFactory>;
