import type { Actor } from "../actor.js";
import type { AuditService } from "../audit/audit-service.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import type { ProjectAccess } from "../projects/access.js";
import type { ProjectService } from "../projects/project-service.js";
import { isoAt } from "../time.js";
import type { DynamicSecretStore } from "../../store/dynamic-secrets.js";
import type { FolderStore } from "../../store/folders.js";
import type { IdentityStore } from "../../store/identities.js";
import type { DynamicSecretLeaseTable } from "../../store/schema.js";
import { generateUsername } from "./credentials.js";
import { LEASE_LOCK_MS, type LeaseRevoker } from "./lease-revoker.js";
import { normalizeFolderPath, type FolderRef, type Locator } from "./locate.js";
import type { Sealed } from "./sealed.js";
import { TemplateError } from "./statements.js";
import { parseMsDuration, parseTtl } from "./ttl.js";
import { dynamicSecretView, leaseView } from "./views.js";

export interface CreateLeaseDTO extends FolderRef {
  dynamicSecretName: string;
  /** Absent (or "", as the Go SDK sends) means the dynamic secret's defaultTTL. */
  ttl?: string;
  config?: unknown;
}

type Deps = {
  store: Pick<DynamicSecretStore, "get" | "getLease" | "insertLease" | "updateLease" | "lockLease">;
  folders: Pick<FolderStore, "getLocated">;
  locate: Locator;
  access: Pick<ProjectAccess, "requireProjectBySlug">;
  projects: Pick<ProjectService, "environmentBySlug">;
  identities: Pick<IdentityStore, "getIdentity">;
  sealed: Sealed;
  revoker: LeaseRevoker;
  audit: Pick<AuditService, "record">;
  clock: Clock;
  minTtlMs: number;
};

const human = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

export const leaseServiceFactory = ({ store, folders, locate, access, projects, identities, sealed, revoker, audit, clock, minTtlMs }: Deps) => {
  /** The requested TTL, or the default; never past maxTTL (400), always within the global bounds (422). */
  const ttlFor = (requested: string | undefined, defaultTTL: string, maxTTL: string | null) => {
    const ttlMs = requested ? parseTtl("ttl", requested, minTtlMs) : parseMsDuration(defaultTTL)!;
    const maxMs = maxTTL === null ? null : parseMsDuration(maxTTL)!;
    if (maxMs !== null && ttlMs > maxMs) throw new BadRequestError(`ttl (${requested ?? defaultTTL}) cannot be longer than the dynamic secret's maxTTL (${maxTTL})`);
    return ttlMs;
  };

  const create = async (actor: Actor, dto: CreateLeaseDTO) => {
    const { row: ds, project } = await locate.dynamicSecret(actor, dto, dto.dynamicSecretName, "member");
    const ttlMs = ttlFor(dto.ttl, ds.default_ttl, ds.max_ttl);
    const { provider, inputs } = await sealed.open(ds);
    const identity = await identities.getIdentity(actor.identityId);
    const now = clock.now();
    let username: string;
    try {
      username = generateUsername(ds.username_template, {
        unixTimestamp: Math.floor(now / 1000), identity: { id: actor.identityId, name: identity?.name ?? "" }, dynamicSecret: { name: ds.name, type: ds.type },
      });
    } catch (e) {
      if (e instanceof TemplateError) throw new BadRequestError(`usernameTemplate: ${e.message}`);
      throw e;
    }
    const expireAt = now + ttlMs;
    const issued = await provider.create(inputs, { username, expireAt: new Date(expireAt) });
    const id = newId();
    const lease: DynamicSecretLeaseTable = {
      id, dynamic_secret_id: ds.id, project_id: project.id, version: 1, external_entity_id: issued.entityId, expire_at: isoAt(expireAt),
      encrypted_data: "", status: null, status_details: null,
      config: dto.config === undefined || dto.config === null ? null : JSON.stringify(dto.config), lock_until: null, created_at: isoAt(now), updated_at: isoAt(now),
    };
    // A user nobody knows of would never be revoked: undo it at the target before failing.
    const undo = () => provider.revoke(inputs, { entityId: issued.entityId, data: issued.data, expireAt: new Date(expireAt) }).catch(() => {});
    let recorded: boolean;
    try {
      lease.encrypted_data = await sealed.sealLeaseData(project.id, id, issued.data);
      recorded = await store.insertLease(lease);
    } catch (e) {
      await undo();
      throw e;
    }
    if (!recorded) {
      await undo();
      throw new NotFoundError(`Dynamic secret '${ds.name}' (or its project) was deleted while the lease was being created; its user at the target was removed again`);
    }
    await audit.record(actor, {
      action: "create-dynamic-secret-lease", resourceType: "dynamic-secret-lease", resourceId: id, projectId: project.id,
      metadata: { dynamicSecretId: ds.id, dynamicSecretName: ds.name, externalEntityId: issued.entityId, ttl: human(ttlMs), expireAt: lease.expire_at },
    });
    return { lease: leaseView(lease), dynamicSecret: dynamicSecretView(ds), data: issued.data };
  };

  /**
   * The lease and its dynamic secret, if they belong to the project and environment named. The folder is
   * checked only when the caller names one: the CLI agent sends it as `secretPath` (api.md 8 item 1), older
   * callers not at all, and a lease id is unique anyway.
   */
  const find = async (actor: Actor, leaseId: string, ref: FolderRef) => {
    const project = await access.requireProjectBySlug(actor, ref.projectSlug, "member");
    const env = await projects.environmentBySlug(project.id, ref.environmentSlug);
    const notFound = () => new NotFoundError(`Lease with ID ${leaseId} not found`);
    const lease = await store.getLease(leaseId);
    if (!lease || lease.project_id !== project.id) throw notFound();
    const ds = await store.get(lease.dynamic_secret_id);
    if (!ds || ds.env_id !== env.id) throw notFound();
    if (ref.path !== undefined && ref.path.trim() !== "") {
      const folder = await folders.getLocated(ds.folder_id);
      if (folder?.path !== normalizeFolderPath(ref.path)) throw notFound();
    }
    return { lease, ds, project };
  };

  const expired = (lease: DynamicSecretLeaseTable) => Date.parse(lease.expire_at) <= clock.now();

  /** 404 for an unknown or expired lease: the CLI agent forgets a lease on 404 and revokes it on anything else. */
  const get = async (actor: Actor, leaseId: string, ref: FolderRef) => {
    const { lease, ds } = await find(actor, leaseId, ref);
    if (expired(lease)) throw new NotFoundError(`Lease with ID ${leaseId} expired at ${lease.expire_at}`);
    const dynamicSecret = dynamicSecretView(ds);
    return { lease: { ...leaseView(lease), dynamicSecret }, dynamicSecret };
  };

  /** New expiry = now + ttl, never past createdAt + maxTTL; the provider's renew statement runs first. */
  const renew = async (actor: Actor, leaseId: string, ref: FolderRef, ttl?: string) => {
    const { lease, ds, project } = await find(actor, leaseId, ref);
    if (expired(lease)) throw new BadRequestError(`Lease with ID ${leaseId} expired at ${lease.expire_at} and cannot be renewed; create a new lease`);
    const ttlMs = ttlFor(ttl, ds.default_ttl, ds.max_ttl);
    const now = clock.now();
    const expireAt = now + ttlMs;
    if (ds.max_ttl !== null) {
      const limit = Date.parse(lease.created_at) + parseMsDuration(ds.max_ttl)!;
      if (expireAt > limit)
        throw new BadRequestError(`Renewing by ${ttl || ds.default_ttl} would end the lease at ${isoAt(expireAt)}, past its max TTL (${ds.max_ttl} from ${lease.created_at}, i.e. ${isoAt(limit)}); create a new lease instead`);
    }
    if (!(await store.lockLease(lease.id, isoAt(now), isoAt(now + LEASE_LOCK_MS))))
      throw new BadRequestError(`Lease with ID ${leaseId} is being revoked or renewed by another request; retry`);
    const patch = { expire_at: isoAt(expireAt), version: lease.version + 1, updated_at: isoAt(now), status: null, status_details: null, lock_until: null };
    try {
      const { provider, inputs } = await sealed.open(ds);
      await provider.renew(inputs, { entityId: lease.external_entity_id, data: await sealed.openLeaseData(lease), expireAt: new Date(expireAt) });
      await store.updateLease(lease.id, patch);
    } catch (e) {
      await store.updateLease(lease.id, { lock_until: null });
      throw e;
    }
    await audit.record(actor, {
      action: "renew-dynamic-secret-lease", resourceType: "dynamic-secret-lease", resourceId: lease.id, projectId: project.id,
      metadata: { dynamicSecretId: ds.id, ttl: human(ttlMs), expireAt: patch.expire_at },
    });
    return { lease: leaseView({ ...lease, ...patch }) };
  };

  /**
   * Revokes at the provider, then forgets the lease. A provider failure answers 400 and keeps the lease
   * (marked FailedDeletion, so the sweeper retries once it expires) unless `isForced`.
   */
  const revoke = async (actor: Actor, leaseId: string, ref: FolderRef, isForced: boolean) => {
    const { lease, ds, project } = await find(actor, leaseId, ref);
    // The sweeper may be revoking this very lease (it expired a moment ago): wait for it rather than fail.
    for (let attempt = 0; ; attempt++) {
      const current = await store.getLease(lease.id);
      if (!current) break;
      if ((await revoker.revoke(current, ds, { force: isForced })) === "revoked") break;
      if (attempt >= 20) throw new BadRequestError(`Lease with ID ${leaseId} is being revoked or renewed by another request; retry`);
      await clock.sleep(250);
    }
    await audit.record(actor, {
      action: "delete-dynamic-secret-lease", resourceType: "dynamic-secret-lease", resourceId: lease.id, projectId: project.id,
      metadata: { dynamicSecretId: ds.id, externalEntityId: lease.external_entity_id, isForced },
    });
    return { lease: leaseView(lease) };
  };

  return { create, get, renew, revoke };
};
export type LeaseService = ReturnType<typeof leaseServiceFactory>;
