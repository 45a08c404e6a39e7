import type { Clock } from "../clock.js";
import type { Actor } from "../actor.js";
import { BadRequestError, ForbiddenError, NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { IdentityStore } from "../../store/identities.js";
import type { IdentityTable } from "../../store/schema.js";
import type { AuditService } from "../audit/audit-service.js";

export const ORG_ROLES = ["admin", "member", "no-access"] as const;

type Deps = {
  store: Pick<IdentityStore, "insertIdentity" | "getIdentity" | "listIdentities" | "updateIdentity" | "deleteIdentity" | "getUaByIdentity">;
  /** Workload auth methods attached to an identity (kubernetes, aws, gcp, azure), as stored. */
  workloadMethods: (identityId: string) => Promise<string[]>;
  audit: Pick<AuditService, "record">;
  clock: Clock;
};

export const requireOrgAdmin = (actor: Actor): void => {
  if (actor.orgRole !== "admin") throw new ForbiddenError("This action needs the organization admin role");
};

export const identityServiceFactory = ({ store, workloadMethods, audit, clock }: Deps) => {
  const view = async (i: IdentityTable) => {
    // Infisical's names: universal-auth, kubernetes-auth, aws-auth, gcp-auth, azure-auth.
    const authMethods = [...((await store.getUaByIdentity(i.id)) ? ["universal-auth"] : []), ...(await workloadMethods(i.id)).map((m) => (m === "service-key" ? m : `${m}-auth`))];
    return {
      id: i.id, name: i.name, orgId: i.org_id, role: i.org_role, authMethod: authMethods[0] ?? null,
      authMethods, hasDeleteProtection: !!i.has_delete_protection,
      metadata: JSON.parse(i.metadata), createdAt: i.created_at, updatedAt: i.updated_at,
    };
  };

  /** The identity, when the actor is an admin of its organization; 404 across organizations. */
  const getForAdmin = async (actor: Actor, identityId: string) => {
    requireOrgAdmin(actor);
    const i = await store.getIdentity(identityId);
    if (!i || i.org_id !== actor.orgId) throw new NotFoundError(`Identity with ID ${identityId} not found`);
    return i;
  };

  const create = async (actor: Actor, dto: { name: string; organizationId: string; role?: string; hasDeleteProtection?: boolean; metadata?: { key: string; value: string }[] }) => {
    requireOrgAdmin(actor);
    if (dto.organizationId !== actor.orgId) throw new NotFoundError(`Organization with ID ${dto.organizationId} not found`);
    const role = dto.role ?? "no-access";
    if (!(ORG_ROLES as readonly string[]).includes(role)) throw new BadRequestError(`role: unknown organization role "${role}" (one of ${ORG_ROLES.join(", ")})`);
    const now = isoNow(clock);
    const row: IdentityTable = {
      id: newId(), org_id: actor.orgId, name: dto.name, org_role: role, has_delete_protection: dto.hasDeleteProtection ? 1 : 0,
      metadata: JSON.stringify((dto.metadata ?? []).map((m) => ({ id: newId(), key: m.key, value: m.value }))), created_at: now, updated_at: now,
    };
    await store.insertIdentity(row);
    await audit.record(actor, { action: "create-identity", resourceType: "identity", resourceId: row.id, metadata: { name: row.name, role } });
    return view(row);
  };

  const get = async (actor: Actor, id: string) => view(await getForAdmin(actor, id));

  const list = async (actor: Actor) => {
    requireOrgAdmin(actor);
    return Promise.all((await store.listIdentities(actor.orgId)).map(view));
  };

  const update = async (actor: Actor, id: string, dto: { name?: string; role?: string; hasDeleteProtection?: boolean; metadata?: { key: string; value: string }[] }) => {
    const i = await getForAdmin(actor, id);
    if (dto.role !== undefined && !(ORG_ROLES as readonly string[]).includes(dto.role)) throw new BadRequestError(`role: unknown organization role "${dto.role}"`);
    // Giving up one's own admin role could leave the organization with no admin, and nothing (bootstrap runs
    // once, there is no user login) could ever administer it again: another admin has to do it.
    if (i.id === actor.identityId && i.org_role === "admin" && dto.role !== undefined && dto.role !== "admin")
      throw new BadRequestError("role: an identity cannot take the organization admin role from itself; another admin has to");
    const patch: Partial<IdentityTable> = { updated_at: isoNow(clock) };
    if (dto.name !== undefined) patch.name = dto.name;
    if (dto.role !== undefined) patch.org_role = dto.role;
    if (dto.hasDeleteProtection !== undefined) patch.has_delete_protection = dto.hasDeleteProtection ? 1 : 0;
    if (dto.metadata !== undefined) patch.metadata = JSON.stringify(dto.metadata.map((m) => ({ id: newId(), key: m.key, value: m.value })));
    await store.updateIdentity(i.id, patch);
    await audit.record(actor, { action: "update-identity", resourceType: "identity", resourceId: i.id });
    return view({ ...i, ...patch });
  };

  const remove = async (actor: Actor, id: string) => {
    const i = await getForAdmin(actor, id);
    if (i.has_delete_protection) throw new BadRequestError("Identity has delete protection enabled");
    if (i.id === actor.identityId) throw new BadRequestError("An identity cannot delete itself");
    const v = await view(i);
    await store.deleteIdentity(i.id);
    await audit.record(actor, { action: "delete-identity", resourceType: "identity", resourceId: i.id });
    return v;
  };

  return { getForAdmin, create, get, list, update, remove };
};
export type IdentityService = ReturnType<typeof identityServiceFactory>;
