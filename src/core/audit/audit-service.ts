import type { Clock } from "../clock.js";
import type { Actor, RequestInfo } from "../actor.js";
import { newTimeOrderedId } from "../ids.js";
import { isoNow } from "../time.js";
import type { AuditStore } from "../../store/audit.js";
import type { AuditLogTable } from "../../store/schema.js";

/**
 * Who acted, when it is not a machine identity with a token: an ACME account, a certificate's own key (ACME
 * revocation, EST re-enrollment), an EST client that gave its profile's passphrase (id: the profile), or the
 * server itself (id: which background job).
 */
export interface OtherActor { type: "acme-account" | "certificate" | "est-passphrase" | "system"; id: string }

export interface AuditEvent {
  action: string;
  resourceType: string;
  resourceId?: string | null;
  projectId?: string | null;
  orgId?: string | null;
  /** Names, ids and flags only: never a secret value, key or token. */
  metadata?: Record<string, unknown>;
}

type Deps = { store: Pick<AuditStore, "insert" | "list">; clock: Clock };

export const auditServiceFactory = ({ store, clock }: Deps) => {
  const rowOf = (actorType: string, actorId: string | null, req: RequestInfo | undefined, e: AuditEvent): AuditLogTable => ({
    id: newTimeOrderedId(), org_id: e.orgId ?? null, project_id: e.projectId ?? null, actor_type: actorType, actor_id: actorId,
    action: e.action, resource_type: e.resourceType, resource_id: e.resourceId ?? null,
    ip: req?.ip ?? null, user_agent: req?.userAgent ?? null, metadata: JSON.stringify(e.metadata ?? {}), created_at: isoNow(clock),
  });
  const write = (actorType: string, actorId: string | null, req: RequestInfo | undefined, e: AuditEvent) => store.insert(rowOf(actorType, actorId, req, e));

  /** A mutation or read by an authenticated identity. */
  const record = (actor: Actor, e: AuditEvent) => write("identity", actor.identityId, actor, { orgId: actor.orgId, ...e });
  /**
   * The row `record` would write, for a store that commits it in the same transaction as the change it
   * describes (certificate issuance does: the event and the certificate are recorded together or not at all).
   */
  const entry = (actor: Actor, e: AuditEvent): AuditLogTable => rowOf("identity", actor.identityId, actor, { orgId: actor.orgId, ...e });
  /** An authentication event (login, renew, revoke, failure): the actor may be unknown. */
  const recordAuth = (identityId: string | null, req: RequestInfo, e: AuditEvent) => write(identityId ? "identity" : "anonymous", identityId, req, e);
  /** An action by someone other than an identity (enrollment protocols, background jobs). */
  const recordAs = (actor: OtherActor, req: RequestInfo | undefined, e: AuditEvent) => write(actor.type, actor.id, req, e);

  const list = async (q: { projectId?: string; orgId?: string; limit?: number; offset?: number; action?: string }) =>
    (await store.list({ ...q, limit: Math.min(q.limit ?? 50, 500), offset: q.offset ?? 0 })).map((r) => ({
      id: r.id, actor: { type: r.actor_type, id: r.actor_id }, action: r.action,
      resource: { type: r.resource_type, id: r.resource_id }, projectId: r.project_id, orgId: r.org_id,
      ipAddress: r.ip, userAgent: r.user_agent, metadata: JSON.parse(r.metadata), createdAt: r.created_at,
    }));

  return { record, entry, recordAuth, recordAs, list };
};
export type AuditService = ReturnType<typeof auditServiceFactory>;
