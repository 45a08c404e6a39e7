import type { Clock } from "../clock.js";
import type { Actor, RequestInfo } from "../actor.js";
import { BadRequestError, NotFoundError, UnauthorizedError, ValidationError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { RootKeyring } from "../../crypto/envelope.js";
import type { IdentityStore } from "../../store/identities.js";
import type { WorkloadIdentityStore } from "../../store/workload-identity.js";
import type { WorkloadAuthTable } from "../../store/schema.js";
import type { AuditService } from "../audit/audit-service.js";
import type { IdentityService } from "./identity-service.js";
import type { TokenGrant, TokenService } from "./token-service.js";
import { ANYWHERE, parseTrustedIps, type TrustedIp } from "./ip.js";

/**
 * What every workload auth method shares (api.md 2.6): attach/get/update/detach on an identity with the
 * access-token settings, and a login that asks the method's verifier who is calling and then mints a token.
 * Each method (kubernetes-auth.ts, aws-auth.ts, ...) only knows its settings and how to prove an identity,
 * as a smallstep provisioner does; refusals are audited and answered here, in one way.
 */

export type WorkloadMethod = "kubernetes" | "aws" | "gcp" | "azure" | "service-key" | "tls-cert";

/** A verifier's refusal: the reason goes to the caller (401) and to the audit log. Never put a token in it. */
export class LoginRefused extends Error {}

export interface TokenSettingsDto {
  accessTokenTrustedIps?: { ipAddress: string }[];
  accessTokenTTL?: number;
  accessTokenMaxTTL?: number;
  accessTokenNumUsesLimit?: number;
}

export interface Configured<C, S> { config: C; secrets: S | null; projectId?: string | null }

/** Enough of a kind to audit and word a refusal; `refusal` replaces "<title> login refused" in the message. */
export interface RefusingKind { readonly method: string; readonly title: string; readonly refusal?: string }

export interface WorkloadAuthKind<C, S, In> {
  readonly method: WorkloadMethod;
  /** "Kubernetes auth": used in messages. */
  readonly title: string;
  /** The access token's auth method name, as Infisical names it. */
  readonly tokenAuthMethod: string;
  /** Checks and normalises settings; on update `existing` holds the stored ones and `input` only what changes. */
  configure(input: Record<string, unknown>, existing: Configured<C, S> | undefined, actor: Actor): Promise<Configured<C, S>> | Configured<C, S>;
  /** What may leave the server: never a secret. */
  view(c: Configured<C, S>): Record<string, unknown>;
  /** Proves who is calling or throws LoginRefused; returns names for the audit log. */
  verify(identityId: string, c: Configured<C, S>, input: In): Promise<Record<string, unknown>>;
}

type Deps = {
  store: WorkloadIdentityStore;
  identityStore: Pick<IdentityStore, "getIdentity">;
  identities: Pick<IdentityService, "getForAdmin">;
  tokens: Pick<TokenService, "issue">;
  audit: Pick<AuditService, "record" | "recordAuth">;
  root: Pick<RootKeyring, "seal" | "open">;
  clock: Clock;
};

const THIRTY_DAYS = 2_592_000;

/** What an auth method's secrets (a reviewer JWT, …) are sealed with the root key for: their row. */
export const workloadSecretsAad = (row: { id: string }) => `workload-auth:${row.id}`;

export const workloadAuthServiceFactory = ({ store, identityStore, identities, tokens, audit, root, clock }: Deps) => {
  const aad = workloadSecretsAad;

  const load = <C, S>(row: WorkloadAuthTable): Configured<C, S> => ({
    config: JSON.parse(row.config) as C,
    secrets: row.encrypted_secrets ? (JSON.parse(root.open(row.encrypted_secrets, aad(row)).toString("utf8")) as S) : null,
    projectId: row.project_id,
  });

  const view = <C, S>(kind: WorkloadAuthKind<C, S, unknown>, row: WorkloadAuthTable) => ({
    id: row.id, identityId: row.identity_id,
    ...kind.view(load<C, S>(row)),
    accessTokenTTL: row.access_token_ttl, accessTokenMaxTTL: row.access_token_max_ttl,
    accessTokenNumUsesLimit: row.access_token_num_uses_limit,
    accessTokenTrustedIps: JSON.parse(row.access_token_trusted_ips) as TrustedIp[],
    createdAt: row.created_at, updatedAt: row.updated_at,
  });

  const checkTtls = (ttl: number, maxTtl: number) => {
    if (maxTtl > 0 && ttl > maxTtl)
      throw new ValidationError("accessTokenMaxTTL must be at least accessTokenTTL", [
        { path: ["accessTokenMaxTTL"], message: "accessTokenMaxTTL must be greater than or equal to accessTokenTTL" },
      ]);
  };

  const requireRow = async (kind: { method: string; title: string }, identityId: string) => {
    const row = await store.getAuth(identityId, kind.method);
    if (!row) throw new NotFoundError(`${kind.title} is not attached to identity ${identityId}`);
    return row;
  };

  const split = (dto: Record<string, unknown>) => {
    const { accessTokenTrustedIps, accessTokenTTL, accessTokenMaxTTL, accessTokenNumUsesLimit, ...rest } = dto as TokenSettingsDto & Record<string, unknown>;
    return { token: { accessTokenTrustedIps, accessTokenTTL, accessTokenMaxTTL, accessTokenNumUsesLimit } as TokenSettingsDto, rest };
  };

  const attach = async <C, S, In>(kind: WorkloadAuthKind<C, S, In>, actor: Actor, identityId: string, dto: Record<string, unknown>) => {
    const identity = await identities.getForAdmin(actor, identityId);
    if (await store.getAuth(identity.id, kind.method)) throw new BadRequestError(`${kind.title} is already attached to this identity`);
    const { token, rest } = split(dto);
    const ttl = token.accessTokenTTL ?? THIRTY_DAYS;
    const maxTtl = token.accessTokenMaxTTL ?? THIRTY_DAYS;
    checkTtls(ttl, maxTtl);
    const c = await kind.configure(rest, undefined, actor);
    const now = isoNow(clock);
    const id = newId();
    const row: WorkloadAuthTable = {
      id, identity_id: identity.id, method: kind.method, project_id: c.projectId ?? null, config: JSON.stringify(c.config),
      encrypted_secrets: c.secrets ? root.seal(JSON.stringify(c.secrets), aad({ id })) : null,
      access_token_ttl: ttl, access_token_max_ttl: maxTtl, access_token_num_uses_limit: token.accessTokenNumUsesLimit ?? 0,
      access_token_trusted_ips: JSON.stringify(token.accessTokenTrustedIps ? parseTrustedIps(token.accessTokenTrustedIps, "accessTokenTrustedIps") : ANYWHERE),
      created_at: now, updated_at: now,
    };
    await store.insertAuth(row);
    await audit.record(actor, { action: `attach-${kind.method}-auth`, resourceType: "identity", resourceId: identity.id });
    return view(kind, row);
  };

  const get = async <C, S, In>(kind: WorkloadAuthKind<C, S, In>, actor: Actor, identityId: string) =>
    view(kind, await requireRow(kind, (await identities.getForAdmin(actor, identityId)).id));

  const update = async <C, S, In>(kind: WorkloadAuthKind<C, S, In>, actor: Actor, identityId: string, dto: Record<string, unknown>) => {
    const row = await requireRow(kind, (await identities.getForAdmin(actor, identityId)).id);
    const { token, rest } = split(dto);
    const patch: Partial<WorkloadAuthTable> = { updated_at: isoNow(clock) };
    if (token.accessTokenTTL !== undefined) patch.access_token_ttl = token.accessTokenTTL;
    if (token.accessTokenMaxTTL !== undefined) patch.access_token_max_ttl = token.accessTokenMaxTTL;
    if (token.accessTokenNumUsesLimit !== undefined) patch.access_token_num_uses_limit = token.accessTokenNumUsesLimit;
    if (token.accessTokenTrustedIps) patch.access_token_trusted_ips = JSON.stringify(parseTrustedIps(token.accessTokenTrustedIps, "accessTokenTrustedIps"));
    checkTtls(patch.access_token_ttl ?? row.access_token_ttl, patch.access_token_max_ttl ?? row.access_token_max_ttl);
    const c = await kind.configure(rest, load<C, S>(row), actor);
    patch.config = JSON.stringify(c.config);
    patch.project_id = c.projectId ?? null;
    patch.encrypted_secrets = c.secrets ? root.seal(JSON.stringify(c.secrets), aad(row)) : null;
    await store.updateAuth(row.id, patch, { identityId: row.identity_id, authMethod: kind.tokenAuthMethod, now: isoNow(clock) });
    await audit.record(actor, { action: `update-${kind.method}-auth`, resourceType: "identity", resourceId: identityId });
    return view(kind, { ...row, ...patch });
  };

  const detach = async <C, S, In>(kind: WorkloadAuthKind<C, S, In>, actor: Actor, identityId: string) => {
    const row = await requireRow(kind, (await identities.getForAdmin(actor, identityId)).id);
    await store.deleteAuth(row.id, { identityId: row.identity_id, authMethod: kind.tokenAuthMethod, now: isoNow(clock) });
    await audit.record(actor, { action: `detach-${kind.method}-auth`, resourceType: "identity", resourceId: identityId });
    return view(kind, row);
  };

  /** Audits a refused login and builds the 401 that says why. */
  const refuse = async (kind: RefusingKind, identityId: string | null, req: RequestInfo, reason: string, orgId?: string) => {
    await audit.recordAuth(identityId, req, {
      action: `${kind.method}-auth-login-failed`, resourceType: "identity", resourceId: identityId, orgId, metadata: { reason },
    });
    return new UnauthorizedError(`${kind.refusal ?? `${kind.title} login refused`}: ${reason}`);
  };

  /** Mints an access token with the settings of `row` and audits the login. */
  const grant = async (kind: { method: string; tokenAuthMethod: string }, row: WorkloadAuthTable, req: RequestInfo, metadata: Record<string, unknown>): Promise<TokenGrant> => {
    const g = await tokens.issue(row.identity_id, kind.tokenAuthMethod, {
      ttl: row.access_token_ttl, maxTtl: row.access_token_max_ttl, numUsesLimit: row.access_token_num_uses_limit,
      period: 0, trustedIps: JSON.parse(row.access_token_trusted_ips) as TrustedIp[],
    });
    const orgId = (await identityStore.getIdentity(row.identity_id))?.org_id;
    await audit.recordAuth(row.identity_id, req, { action: `${kind.method}-auth-login`, resourceType: "identity", resourceId: row.identity_id, orgId, metadata });
    return g;
  };

  /** Runs `verify` for an identity's attached method; every refusal becomes an audited 401 naming the reason. */
  const authenticate = async <C, S, In>(kind: WorkloadAuthKind<C, S, In>, identityId: string, input: In, req: RequestInfo) => {
    const row = await store.getAuth(identityId, kind.method);
    const identity = row ? await identityStore.getIdentity(identityId) : undefined;
    if (!row || !identity) throw await refuse(kind, null, req, `${kind.title} is not attached to identity ${identityId}`);
    try {
      return { row, metadata: await kind.verify(identityId, load<C, S>(row), input) };
    } catch (e) {
      if (e instanceof LoginRefused) throw await refuse(kind, identityId, req, e.message, identity.org_id);
      throw e;
    }
  };

  const login = async <C, S, In>(kind: WorkloadAuthKind<C, S, In>, identityId: string, input: In, req: RequestInfo): Promise<TokenGrant> => {
    const { row, metadata } = await authenticate(kind, identityId, input, req);
    return grant(kind, row, req, metadata);
  };

  return { attach, get, update, detach, login, authenticate, refuse, grant, load };
};
export type WorkloadAuthService = ReturnType<typeof workloadAuthServiceFactory>;

/** Comma-separated lists of api.md 2.6 ("ns-a, ns-b"), trimmed, empties dropped. */
export const commaList = (s: string | undefined | null): string[] => (s ?? "").split(",").map((x) => x.trim()).filter(Boolean);

/** `*` matches any run of characters (including none); everything else is literal. */
export const wildcardMatch = (pattern: string, value: string): boolean => {
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(value);
};

/** Picks a field: the update's value when given, else the stored one, else the default. */
export const pick = <T>(input: Record<string, unknown>, key: string, existing: T | undefined, dflt: T): T =>
  input[key] !== undefined ? (input[key] as T) : existing !== undefined ? existing : dflt;
