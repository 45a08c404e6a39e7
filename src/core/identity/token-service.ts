import type { Clock } from "../clock.js";
import type { Actor, RequestInfo } from "../actor.js";
import { ForbiddenError, UnauthorizedError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import { hashSecret, randomToken, safeEqual } from "../../crypto/hash.js";
import type { IdentityStore } from "../../store/identities.js";
import type { AccessTokenTable } from "../../store/schema.js";
import type { AuditService } from "../audit/audit-service.js";
import { ANYWHERE, ipAllowed, type TrustedIp } from "./ip.js";

/** Opaque to clients. `kmsat.<token id>.<secret>`: the id finds the row, the secret is compared by hash. */
const PREFIX = "kmsat.";
const ANYWHERE_JSON = JSON.stringify(ANYWHERE);

export interface TokenGrant { accessToken: string; expiresIn: number; accessTokenMaxTTL: number; tokenType: "Bearer" }

export interface TokenSettings { ttl: number; maxTtl: number; numUsesLimit: number; period: number; trustedIps: TrustedIp[] }

type Deps = {
  store: Pick<IdentityStore, "insertToken" | "getToken" | "getTokenWithIdentity" | "useToken" | "countTokenUse" | "renewToken" | "revokeToken" | "getIdentity">;
  audit: Pick<AuditService, "recordAuth">;
  clock: Clock;
};

const parse = (token: string): { id: string; secret: string } | undefined => {
  if (!token.startsWith(PREFIX)) return undefined;
  const rest = token.slice(PREFIX.length);
  const dot = rest.indexOf(".");
  if (dot <= 0) return undefined;
  return { id: rest.slice(0, dot), secret: rest.slice(dot + 1) };
};

export const tokenServiceFactory = ({ store, audit, clock }: Deps) => {
  /** Builds a token row and its string; the caller inserts the row (possibly inside a transaction). */
  const mint = (identityId: string, authMethod: string, s: TokenSettings): { row: AccessTokenTable; token: string } => {
    const id = newId();
    const secret = randomToken();
    const now = isoNow(clock);
    return {
      token: `${PREFIX}${id}.${secret}`,
      row: {
        id, identity_id: identityId, secret_hash: hashSecret(secret), auth_method: authMethod,
        ttl: s.period > 0 ? s.period : s.ttl, max_ttl: s.maxTtl, num_uses: 0, num_uses_limit: s.numUsesLimit, period: s.period,
        trusted_ips: JSON.stringify(s.trustedIps), is_revoked: 0, last_renewed_at: now, created_at: now, updated_at: now,
      },
    };
  };

  const grant = (token: string, row: AccessTokenTable): TokenGrant => ({
    accessToken: token, expiresIn: row.ttl, accessTokenMaxTTL: row.max_ttl, tokenType: "Bearer",
  });

  const issue = async (identityId: string, authMethod: string, s: TokenSettings): Promise<TokenGrant> => {
    const { row, token } = mint(identityId, authMethod, s);
    await store.insertToken(row);
    return grant(token, row);
  };

  /** Loads a token row and checks everything but IP and use count; `why` explains a refusal without echoing the token. */
  const load = async <R extends AccessTokenTable>(token: string, get: (id: string) => Promise<R | undefined>): Promise<{ row: R } | { why: string }> => {
    const p = parse(token);
    if (!p) return { why: "malformed access token" };
    const row = await get(p.id);
    if (!row || !safeEqual(row.secret_hash, hashSecret(p.secret))) return { why: "unknown access token" };
    if (row.is_revoked) return { why: "access token has been revoked" };
    const now = clock.now();
    if (row.ttl > 0 && Date.parse(row.last_renewed_at) + row.ttl * 1000 <= now) return { why: "access token has expired" };
    if (row.period === 0 && row.max_ttl > 0 && Date.parse(row.created_at) + row.max_ttl * 1000 <= now)
      return { why: "access token has passed its max TTL" };
    return { row };
  };

  /**
   * The auth hook: who is this bearer token? Every authenticated request counts one use. It runs on every
   * request, so the token and its identity come in one query, and the usual "from anywhere" trusted-IP list
   * (the default) is recognised without building a BlockList.
   */
  const identify = async (token: string, req: RequestInfo) => {
    const r = await load(token, store.getTokenWithIdentity);
    if ("why" in r) throw new UnauthorizedError(`Invalid access token: ${r.why}`);
    const { row } = r;
    if (row.trusted_ips !== ANYWHERE_JSON && !ipAllowed(req.ip, JSON.parse(row.trusted_ips))) throw new ForbiddenError(`Access token not allowed from IP ${req.ip}`);
    if (row.identity_org_id === null) throw new UnauthorizedError("Invalid access token: identity no longer exists");
    const actor: Actor = { identityId: row.identity_id, orgId: row.identity_org_id, orgRole: row.identity_org_role ?? "no-access", tokenId: row.id, ip: req.ip, userAgent: req.userAgent };
    return { row, actor };
  };
  const authenticate = async (token: string, req: RequestInfo): Promise<Actor> => {
    const { row, actor } = await identify(token, req);
    // A limited token is counted by a conditional UPDATE that refuses the use past the limit; an unlimited
    // one cannot be refused, so its count is batched with other requests' and nobody waits for it
    // (identities.ts, countTokenUse): the request goes on without a write in its path.
    if (row.num_uses_limit > 0) {
      if (!(await store.useToken(row.id))) throw new UnauthorizedError("Invalid access token: use limit reached");
    } else store.countTokenUse(row.id).catch(() => undefined);
    return actor;
  };
  /** Who the token stands for now, without counting a use: a long-lived request (the change stream) checks again. */
  const reauthenticate = async (token: string, req: RequestInfo): Promise<Actor> => (await identify(token, req)).actor;

  /** Extends the token's lifetime by its TTL from now, never past its max TTL (periodic tokens have none). */
  const renew = async (token: string, req: RequestInfo): Promise<TokenGrant> => {
    const r = await load(token, store.getToken);
    if ("why" in r) {
      await audit.recordAuth(null, req, { action: "renew-access-token-failed", resourceType: "access-token", metadata: { reason: r.why } });
      throw new UnauthorizedError(`Failed to renew access token: ${r.why}`);
    }
    const { row } = r;
    const now = clock.now();
    if (row.period === 0 && row.max_ttl > 0 && now + row.ttl * 1000 > Date.parse(row.created_at) + row.max_ttl * 1000)
      throw new UnauthorizedError("Failed to renew MI access token past its Max TTL expiration");
    if (row.num_uses_limit > 0 && row.num_uses >= row.num_uses_limit) throw new UnauthorizedError("Failed to renew access token: use limit reached");
    if (row.trusted_ips !== ANYWHERE_JSON && !ipAllowed(req.ip, JSON.parse(row.trusted_ips))) throw new ForbiddenError(`Access token not allowed from IP ${req.ip}`);
    await store.renewToken(row.id, isoNow(clock));
    const orgId = (await store.getIdentity(row.identity_id))?.org_id;
    await audit.recordAuth(row.identity_id, req, { action: "renew-access-token", resourceType: "access-token", resourceId: row.id, orgId });
    return grant(token, row);
  };

  const revoke = async (token: string, req: RequestInfo): Promise<void> => {
    const p = parse(token);
    const row = p && (await store.getToken(p.id));
    if (!p || !row || !safeEqual(row.secret_hash, hashSecret(p.secret))) throw new UnauthorizedError("Invalid access token");
    await store.revokeToken(row.id, isoNow(clock));
    const orgId = (await store.getIdentity(row.identity_id))?.org_id;
    await audit.recordAuth(row.identity_id, req, { action: "revoke-access-token", resourceType: "access-token", resourceId: row.id, orgId });
  };

  return { mint, grant, issue, authenticate, reauthenticate, renew, revoke };
};
export type TokenService = ReturnType<typeof tokenServiceFactory>;
