import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Actor, RequestInfo } from "../actor.js";
import { BadRequestError, ForbiddenError, NotFoundError, RateLimitError, UnauthorizedError, ValidationError } from "../errors.js";
import { newId } from "../ids.js";
import { isoAt, isoNow } from "../time.js";
import { hashSecret, safeEqual } from "../../crypto/hash.js";
import type { IdentityStore } from "../../store/identities.js";
import type { ClientSecretTable, UniversalAuthTable } from "../../store/schema.js";
import type { AuditService } from "../audit/audit-service.js";
import type { IdentityService } from "./identity-service.js";
import type { TokenGrant, TokenService } from "./token-service.js";
import { ANYWHERE, ipAllowed, parseTrustedIps, type TrustedIp } from "./ip.js";

export interface UniversalAuthSettings {
  clientSecretTrustedIps?: { ipAddress: string }[];
  accessTokenTrustedIps?: { ipAddress: string }[];
  accessTokenTTL?: number;
  accessTokenMaxTTL?: number;
  accessTokenNumUsesLimit?: number;
  accessTokenPeriod?: number;
  lockoutEnabled?: boolean;
  lockoutThreshold?: number;
  lockoutDurationSeconds?: number;
  lockoutCounterResetSeconds?: number;
}

type Deps = {
  store: IdentityStore;
  identities: Pick<IdentityService, "getForAdmin">;
  tokens: Pick<TokenService, "issue">;
  audit: Pick<AuditService, "record" | "recordAuth">;
  clock: Clock;
};

const THIRTY_DAYS = 2_592_000;

export const universalAuthServiceFactory = ({ store, identities, tokens, audit, clock }: Deps) => {
  const view = (ua: UniversalAuthTable) => ({
    id: ua.id, clientId: ua.client_id, identityId: ua.identity_id,
    accessTokenTTL: ua.access_token_ttl, accessTokenMaxTTL: ua.access_token_max_ttl,
    accessTokenNumUsesLimit: ua.access_token_num_uses_limit, accessTokenPeriod: ua.access_token_period,
    clientSecretTrustedIps: JSON.parse(ua.client_secret_trusted_ips) as TrustedIp[],
    accessTokenTrustedIps: JSON.parse(ua.access_token_trusted_ips) as TrustedIp[],
    lockoutEnabled: !!ua.lockout_enabled, lockoutThreshold: ua.lockout_threshold,
    lockoutDurationSeconds: ua.lockout_duration_seconds, lockoutCounterResetSeconds: ua.lockout_counter_reset_seconds,
    createdAt: ua.created_at, updatedAt: ua.updated_at,
  });

  const secretView = (s: ClientSecretTable) => ({
    id: s.id, identityUAId: s.identity_ua_id, description: s.description, clientSecretPrefix: s.prefix,
    clientSecretNumUses: s.num_uses, clientSecretNumUsesLimit: s.num_uses_limit, clientSecretTTL: s.ttl,
    isClientSecretRevoked: !!s.is_revoked, createdAt: s.created_at, updatedAt: s.updated_at,
  });

  const checkTtls = (ttl: number, maxTtl: number) => {
    if (maxTtl > 0 && ttl > maxTtl)
      throw new ValidationError("accessTokenMaxTTL must be at least accessTokenTTL", [
        { path: ["accessTokenMaxTTL"], message: "accessTokenMaxTTL must be greater than or equal to accessTokenTTL" },
      ]);
  };

  const requireUa = async (identityId: string) => {
    const ua = await store.getUaByIdentity(identityId);
    if (!ua) throw new NotFoundError(`Universal auth is not attached to identity ${identityId}`);
    return ua;
  };

  const attach = async (actor: Actor, identityId: string, s: UniversalAuthSettings) => {
    const identity = await identities.getForAdmin(actor, identityId);
    if (await store.getUaByIdentity(identity.id)) throw new BadRequestError("Universal auth is already attached to this identity");
    const ttl = s.accessTokenTTL ?? THIRTY_DAYS;
    const maxTtl = s.accessTokenMaxTTL ?? THIRTY_DAYS;
    checkTtls(ttl, maxTtl);
    const now = isoNow(clock);
    const row: UniversalAuthTable = {
      id: newId(), identity_id: identity.id, client_id: newId(),
      access_token_ttl: ttl, access_token_max_ttl: maxTtl,
      access_token_num_uses_limit: s.accessTokenNumUsesLimit ?? 0, access_token_period: s.accessTokenPeriod ?? 0,
      client_secret_trusted_ips: JSON.stringify(s.clientSecretTrustedIps ? parseTrustedIps(s.clientSecretTrustedIps, "clientSecretTrustedIps") : ANYWHERE),
      access_token_trusted_ips: JSON.stringify(s.accessTokenTrustedIps ? parseTrustedIps(s.accessTokenTrustedIps, "accessTokenTrustedIps") : ANYWHERE),
      lockout_enabled: s.lockoutEnabled === false ? 0 : 1, lockout_threshold: s.lockoutThreshold ?? 3,
      lockout_duration_seconds: s.lockoutDurationSeconds ?? 300, lockout_counter_reset_seconds: s.lockoutCounterResetSeconds ?? 30,
      created_at: now, updated_at: now,
    };
    await store.insertUa(row);
    await audit.record(actor, { action: "attach-universal-auth", resourceType: "identity", resourceId: identity.id });
    return view(row);
  };

  const get = async (actor: Actor, identityId: string) => view(await requireUa((await identities.getForAdmin(actor, identityId)).id));

  const update = async (actor: Actor, identityId: string, s: UniversalAuthSettings) => {
    const ua = await requireUa((await identities.getForAdmin(actor, identityId)).id);
    const patch: Partial<UniversalAuthTable> = { updated_at: isoNow(clock) };
    if (s.accessTokenTTL !== undefined) patch.access_token_ttl = s.accessTokenTTL;
    if (s.accessTokenMaxTTL !== undefined) patch.access_token_max_ttl = s.accessTokenMaxTTL;
    if (s.accessTokenNumUsesLimit !== undefined) patch.access_token_num_uses_limit = s.accessTokenNumUsesLimit;
    if (s.accessTokenPeriod !== undefined) patch.access_token_period = s.accessTokenPeriod;
    if (s.clientSecretTrustedIps) patch.client_secret_trusted_ips = JSON.stringify(parseTrustedIps(s.clientSecretTrustedIps, "clientSecretTrustedIps"));
    if (s.accessTokenTrustedIps) patch.access_token_trusted_ips = JSON.stringify(parseTrustedIps(s.accessTokenTrustedIps, "accessTokenTrustedIps"));
    if (s.lockoutEnabled !== undefined) patch.lockout_enabled = s.lockoutEnabled ? 1 : 0;
    if (s.lockoutThreshold !== undefined) patch.lockout_threshold = s.lockoutThreshold;
    if (s.lockoutDurationSeconds !== undefined) patch.lockout_duration_seconds = s.lockoutDurationSeconds;
    if (s.lockoutCounterResetSeconds !== undefined) patch.lockout_counter_reset_seconds = s.lockoutCounterResetSeconds;
    checkTtls(patch.access_token_ttl ?? ua.access_token_ttl, patch.access_token_max_ttl ?? ua.access_token_max_ttl);
    // Tightened trusted IPs apply to the tokens already out, in the same transaction.
    await store.updateUa(ua.id, patch, { identityId, authMethod: "universal-auth", now: patch.updated_at! });
    await audit.record(actor, { action: "update-universal-auth", resourceType: "identity", resourceId: identityId });
    return view({ ...ua, ...patch });
  };

  const detach = async (actor: Actor, identityId: string) => {
    const ua = await requireUa((await identities.getForAdmin(actor, identityId)).id);
    await store.deleteUa(ua.id, { identityId, authMethod: "universal-auth", now: isoNow(clock) });
    await audit.record(actor, { action: "detach-universal-auth", resourceType: "identity", resourceId: identityId });
    return view(ua);
  };

  const createClientSecret = async (actor: Actor, identityId: string, s: { description?: string; numUsesLimit?: number; ttl?: number }) => {
    const ua = await requireUa((await identities.getForAdmin(actor, identityId)).id);
    const secret = randomBytes(32).toString("hex");
    const now = isoNow(clock);
    const row: ClientSecretTable = {
      id: newId(), identity_ua_id: ua.id, description: s.description ?? "", secret_hash: hashSecret(secret), prefix: secret.slice(0, 4),
      num_uses: 0, num_uses_limit: s.numUsesLimit ?? 0, ttl: s.ttl ?? 0, is_revoked: 0, created_at: now, updated_at: now,
    };
    await store.insertClientSecret(row);
    await audit.record(actor, { action: "create-client-secret", resourceType: "identity", resourceId: identityId, metadata: { clientSecretId: row.id } });
    return { clientSecret: secret, clientSecretData: secretView(row) };
  };

  const listClientSecrets = async (actor: Actor, identityId: string) =>
    (await store.listClientSecrets((await requireUa((await identities.getForAdmin(actor, identityId)).id)).id)).map(secretView);

  const getClientSecret = async (actor: Actor, identityId: string, secretId: string) => {
    const ua = await requireUa((await identities.getForAdmin(actor, identityId)).id);
    const s = await store.getClientSecret(ua.id, secretId);
    if (!s) throw new NotFoundError(`Client secret ${secretId} not found`);
    return secretView(s);
  };

  const revokeClientSecret = async (actor: Actor, identityId: string, secretId: string) => {
    const ua = await requireUa((await identities.getForAdmin(actor, identityId)).id);
    const s = await store.getClientSecret(ua.id, secretId);
    if (!s) throw new NotFoundError(`Client secret ${secretId} not found`);
    const now = isoNow(clock);
    await store.revokeClientSecret(s.id, now);
    await audit.record(actor, { action: "revoke-client-secret", resourceType: "identity", resourceId: identityId, metadata: { clientSecretId: s.id } });
    return secretView({ ...s, is_revoked: 1, updated_at: now });
  };

  const clearLockouts = async (actor: Actor, identityId: string) => {
    const ua = await requireUa((await identities.getForAdmin(actor, identityId)).id);
    const deleted = await store.clearLockout(ua.id);
    await audit.record(actor, { action: "clear-universal-auth-lockouts", resourceType: "identity", resourceId: identityId });
    return deleted;
  };

  /** Counts a failed login and locks the client id once the threshold is reached within the counter window. */
  const countFailure = async (ua: UniversalAuthTable) => {
    if (!ua.lockout_enabled) return;
    const now = clock.now();
    const prev = await store.getLockout(ua.id);
    const fresh = !prev || now - Date.parse(prev.window_started_at) > ua.lockout_counter_reset_seconds * 1000;
    const failures = fresh ? 1 : prev!.failures + 1;
    await store.putLockout({
      identity_ua_id: ua.id, failures, window_started_at: fresh ? isoAt(now) : prev!.window_started_at,
      locked_until: failures >= ua.lockout_threshold ? isoAt(now + ua.lockout_duration_seconds * 1000) : null,
    });
  };

  const login = async (clientId: string, clientSecret: string, req: RequestInfo): Promise<TokenGrant> => {
    const ua = await store.getUaByClientId(clientId);
    const orgId = ua ? (await store.getIdentity(ua.identity_id))?.org_id : undefined;
    const fail = async (why: string, identityId: string | null) => {
      await audit.recordAuth(identityId, req, { action: "universal-auth-login-failed", resourceType: "identity", resourceId: identityId, orgId, metadata: { reason: why } });
      return new UnauthorizedError(`Invalid credentials: ${why}`);
    };
    if (!ua) throw await fail("unknown client id", null);
    const lock = await store.getLockout(ua.id);
    if (ua.lockout_enabled && lock?.locked_until && Date.parse(lock.locked_until) > clock.now()) {
      const retry = Math.ceil((Date.parse(lock.locked_until) - clock.now()) / 1000);
      await audit.recordAuth(ua.identity_id, req, { action: "universal-auth-login-locked", resourceType: "identity", resourceId: ua.identity_id, orgId });
      throw new RateLimitError(`Too many failed login attempts for this client id; try again in ${retry} seconds`, retry);
    }
    if (!ipAllowed(req.ip, JSON.parse(ua.client_secret_trusted_ips))) {
      await audit.recordAuth(ua.identity_id, req, { action: "universal-auth-login-failed", resourceType: "identity", resourceId: ua.identity_id, orgId, metadata: { reason: "ip not trusted" } });
      throw new ForbiddenError(`Client secret not allowed from IP ${req.ip}`);
    }
    const row = await store.findClientSecretByHash(ua.id, hashSecret(clientSecret));
    if (!row || !safeEqual(row.secret_hash, hashSecret(clientSecret))) {
      await countFailure(ua);
      throw await fail("bad client secret", ua.identity_id);
    }
    if (row.is_revoked) throw await fail("client secret has been revoked", ua.identity_id);
    if (row.ttl > 0 && Date.parse(row.created_at) + row.ttl * 1000 <= clock.now()) throw await fail("client secret has expired", ua.identity_id);
    if (!(await store.useClientSecret(row.id, isoNow(clock)))) throw await fail("client secret use limit reached", ua.identity_id);
    if (lock) await store.clearLockout(ua.id);
    const grant = await tokens.issue(ua.identity_id, "universal-auth", {
      ttl: ua.access_token_ttl, maxTtl: ua.access_token_max_ttl, numUsesLimit: ua.access_token_num_uses_limit,
      period: ua.access_token_period, trustedIps: JSON.parse(ua.access_token_trusted_ips),
    });
    await audit.recordAuth(ua.identity_id, req, { action: "universal-auth-login", resourceType: "identity", resourceId: ua.identity_id, orgId });
    return grant;
  };

  return { attach, get, update, detach, createClientSecret, listClientSecrets, getClientSecret, revokeClientSecret, clearLockouts, login };
};
export type UniversalAuthService = ReturnType<typeof universalAuthServiceFactory>;
