import type { Clock } from "../clock.js";
import type { Actor, RequestInfo } from "../actor.js";
import { BadRequestError, ForbiddenError, NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoAt, isoNow } from "../time.js";
import { hashSecret, randomToken, safeEqual } from "../../crypto/hash.js";
import type { IdentityStore } from "../../store/identities.js";
import type { WorkloadIdentityStore } from "../../store/workload-identity.js";
import type { AuditService } from "../audit/audit-service.js";
import { checkServiceTtl, type ServiceCertificateOptions, type ServiceKeyService } from "./service-key-service.js";
import type { WorkloadAuthService } from "./workload-auth.js";

/**
 * Instance register tokens (seed 004): instead of registering one public key per instance, someone allowed to
 * manage the service identity asks for a one-time token bound to (identity, instance id); the instance spends it
 * once on its first certificate. `kmsirt.<id>.<secret>`: the id finds the row, the secret is compared by hash.
 */

const PREFIX = "kmsirt.";
export const DEFAULT_REGISTER_TOKEN_TTL_S = 1800;
export const MAX_REGISTER_TOKEN_TTL_S = 7 * 86_400;

type Deps = {
  store: WorkloadIdentityStore;
  identityStore: Pick<IdentityStore, "getIdentity">;
  serviceKeys: Pick<ServiceKeyService, "issueServiceCertificate" | "kind">;
  workload: Pick<WorkloadAuthService, "refuse">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
};

const parse = (token: string): { id: string; secret: string } | undefined => {
  if (!token.startsWith(PREFIX)) return undefined;
  const rest = token.slice(PREFIX.length);
  const dot = rest.indexOf(".");
  return dot > 0 ? { id: rest.slice(0, dot), secret: rest.slice(dot + 1) } : undefined;
};

export const instanceTokenServiceFactory = ({ store, identityStore, serviceKeys, workload, audit, clock }: Deps) => {
  const kind = { method: "instance-register", title: "Instance register token", refusal: "Instance registration refused" };

  /** An organization admin, or the service identity itself, may launch instances of it. */
  const create = async (actor: Actor, identityId: string, dto: { instanceId: string; ttl?: number }) => {
    const identity = await identityStore.getIdentity(identityId);
    if (!identity || identity.org_id !== actor.orgId) throw new NotFoundError(`Identity with ID ${identityId} not found`);
    if (actor.orgRole !== "admin" && actor.identityId !== identity.id)
      throw new ForbiddenError("Permission denied: only an organization admin or the identity itself may create instance register tokens for it");
    if (!(await store.getAuth(identity.id, serviceKeys.kind.method)))
      throw new BadRequestError(`Service key auth is not attached to identity ${identity.id}: attach it first (it names the profile and DNS domains)`);
    const ttl = dto.ttl ?? DEFAULT_REGISTER_TOKEN_TTL_S;
    if (ttl < 1 || ttl > MAX_REGISTER_TOKEN_TTL_S) throw new BadRequestError(`ttl: must be between 1 and ${MAX_REGISTER_TOKEN_TTL_S} seconds`);
    const id = newId();
    const secret = randomToken();
    const expiresAt = isoAt(clock.now() + ttl * 1000);
    await store.insertRegisterToken({
      id, identity_id: identity.id, instance_id: dto.instanceId, token_hash: hashSecret(secret), expires_at: expiresAt, used_at: null,
      created_by: actor.identityId, created_at: isoNow(clock),
    });
    await audit.record(actor, { action: "create-instance-register-token", resourceType: "identity", resourceId: identity.id, metadata: { instanceId: dto.instanceId, tokenId: id } });
    return { token: `${PREFIX}${id}.${secret}`, identityId: identity.id, instanceId: dto.instanceId, expiresAt };
  };

  /** Spends the token on the instance's certificate; any second use is refused, whatever happened to the first. */
  const register = async (dto: { token: string; instanceId: string; csr: string } & ServiceCertificateOptions, req: RequestInfo) => {
    checkServiceTtl(dto.ttl); // a typo in the request is not a probe: it must not cost the token
    const p = parse(dto.token);
    const row = p && (await store.getRegisterToken(p.id));
    if (!p || !row || !safeEqual(row.token_hash, hashSecret(p.secret))) throw await workload.refuse(kind, null, req, "unknown instance register token");
    const identity = await identityStore.getIdentity(row.identity_id);
    const orgId = identity?.org_id;
    if (row.instance_id !== dto.instanceId)
      throw await workload.refuse(kind, row.identity_id, req, `the token is bound to instance "${row.instance_id}", not "${dto.instanceId}"`, orgId);
    if (row.used_at) throw await workload.refuse(kind, row.identity_id, req, "the instance register token has already been used", orgId);
    if (Date.parse(row.expires_at) <= clock.now()) throw await workload.refuse(kind, row.identity_id, req, "the instance register token has expired", orgId);
    const auth = await store.getAuth(row.identity_id, serviceKeys.kind.method);
    if (!identity || !auth) throw await workload.refuse(kind, row.identity_id, req, "service key auth is no longer attached to the identity", orgId);
    // Spent before issuing: a CSR that fails the name check still costs the token, so it cannot be probed.
    if (!(await store.consumeRegisterToken(row.id, isoNow(clock))))
      throw await workload.refuse(kind, row.identity_id, req, "the instance register token has already been used", orgId);
    return serviceKeys.issueServiceCertificate(auth, identity, dto.csr, { ttl: dto.ttl, profile: dto.profile, instanceId: row.instance_id }, req, "register-instance-certificate");
  };

  return { create, register };
};
export type InstanceTokenService = ReturnType<typeof instanceTokenServiceFactory>;
