import type { Clock } from "../clock.js";
import type { Actor } from "../actor.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { PkiStore } from "../../store/pki.js";
import type { CertificatePolicyTable } from "../../store/schema.js";
import type { AuditService } from "../audit/audit-service.js";
import type { ProjectAccess } from "../projects/access.js";
import { normalizePolicy, type CertificatePolicy } from "./policy-rules.js";

/** The rule fields of a policy as the client sent them (api.md 7.4); echoed back in the client's spelling. */
export interface PolicyRulesDto {
  subject?: unknown; sans?: unknown; keyUsages?: unknown; extendedKeyUsages?: unknown; algorithms?: unknown; validity?: unknown;
}
const RULE_FIELDS = ["subject", "sans", "keyUsages", "extendedKeyUsages", "algorithms", "validity"] as const;
const NAME = /^[a-zA-Z0-9-_]+$/;

type Deps = { store: PkiStore; access: Pick<ProjectAccess, "requireProject">; audit: Pick<AuditService, "record">; clock: Clock };

export const policyServiceFactory = ({ store, access, audit, clock }: Deps) => {
  /** Normalised policies by id, so issuance does not re-validate the rules on every request. */
  const normalized = new Map<string, { updatedAt: string; policy: CertificatePolicy }>();

  const rulesOf = (dto: PolicyRulesDto) => Object.fromEntries(RULE_FIELDS.filter((f) => dto[f] !== undefined && dto[f] !== null).map((f) => [f, dto[f]]));

  const view = (p: CertificatePolicyTable) => {
    const rules = JSON.parse(p.rules) as Record<string, unknown>;
    return {
      id: p.id, projectId: p.project_id, name: p.name, description: p.description,
      subject: rules.subject ?? [], sans: rules.sans ?? [], keyUsages: rules.keyUsages ?? {}, extendedKeyUsages: rules.extendedKeyUsages ?? {},
      algorithms: rules.algorithms ?? {}, validity: rules.validity ?? {}, createdAt: p.created_at, updatedAt: p.updated_at,
    };
  };

  const load = async (id: string) => {
    const p = await store.getPolicy(id);
    if (!p) throw new NotFoundError(`Certificate policy with ID ${id} not found`);
    return p;
  };

  /**
   * The normalised rules of a stored policy (what issuance enforces). A caller that already read the policy's
   * `updated_at` (the issuance context query does) passes it, and a cached copy of that version needs no read.
   */
  const rulesFor = async (id: string, knownUpdatedAt?: string | null): Promise<CertificatePolicy> => {
    if (knownUpdatedAt) {
      const cached = normalized.get(id);
      if (cached && cached.updatedAt === knownUpdatedAt) return cached.policy;
    }
    const p = await load(id);
    const hit = normalized.get(id);
    if (hit && hit.updatedAt === p.updated_at) return hit.policy;
    const policy = normalizePolicy(JSON.parse(p.rules));
    normalized.set(id, { updatedAt: p.updated_at, policy });
    return policy;
  };

  const create = async (actor: Actor, dto: PolicyRulesDto & { projectId: string; name: string; description?: string }) => {
    await access.requireProject(actor, dto.projectId, "admin");
    if (!NAME.test(dto.name)) throw new BadRequestError(`name: "${dto.name}" may only contain letters, digits, "-" and "_"`);
    if (await store.getPolicyByName(dto.projectId, dto.name)) throw new BadRequestError(`A certificate policy named '${dto.name}' already exists in this project`);
    const rules = rulesOf(dto);
    normalizePolicy(rules, { written: true });
    const now = isoNow(clock);
    const row: CertificatePolicyTable = { id: newId(), project_id: dto.projectId, name: dto.name, description: dto.description ?? null, rules: JSON.stringify(rules), created_at: now, updated_at: now };
    await store.insertPolicy(row);
    await audit.record(actor, { action: "create-certificate-policy", resourceType: "certificate-policy", resourceId: row.id, projectId: dto.projectId, metadata: { name: dto.name } });
    return view(row);
  };

  const get = async (actor: Actor, id: string) => {
    const p = await load(id);
    await access.requireProject(actor, p.project_id, "viewer");
    return view(p);
  };

  const list = async (actor: Actor, projectId: string, q: { offset?: number; limit?: number; search?: string }) => {
    await access.requireProject(actor, projectId, "viewer");
    const all = await store.listPolicies(projectId, q.search);
    const offset = q.offset ?? 0;
    return { certificatePolicies: all.slice(offset, offset + (q.limit ?? 20)).map(view), totalCount: all.length };
  };

  const update = async (actor: Actor, id: string, dto: PolicyRulesDto & { name?: string; description?: string }) => {
    const p = await load(id);
    await access.requireProject(actor, p.project_id, "admin");
    const rules = { ...(JSON.parse(p.rules) as object), ...rulesOf(dto) };
    normalizePolicy(rules, { written: true });
    const patch: Partial<CertificatePolicyTable> = { rules: JSON.stringify(rules), updated_at: isoNow(clock) };
    if (dto.name !== undefined && dto.name !== p.name) {
      if (!NAME.test(dto.name)) throw new BadRequestError(`name: "${dto.name}" may only contain letters, digits, "-" and "_"`);
      if (await store.getPolicyByName(p.project_id, dto.name)) throw new BadRequestError(`A certificate policy named '${dto.name}' already exists in this project`);
      patch.name = dto.name;
    }
    if (dto.description !== undefined) patch.description = dto.description;
    await store.updatePolicy(id, patch);
    normalized.delete(id);
    await audit.record(actor, { action: "update-certificate-policy", resourceType: "certificate-policy", resourceId: id, projectId: p.project_id });
    return view({ ...p, ...patch });
  };

  const remove = async (actor: Actor, id: string) => {
    const p = await load(id);
    await access.requireProject(actor, p.project_id, "admin");
    if (await store.countProfilesUsingPolicy(id)) throw new BadRequestError("This certificate policy is used by certificate profiles; delete or change them first");
    await store.deletePolicy(id);
    normalized.delete(id);
    await audit.record(actor, { action: "delete-certificate-policy", resourceType: "certificate-policy", resourceId: id, projectId: p.project_id });
    return view(p);
  };

  return { rulesFor, create, get, list, update, remove };
};
export type PolicyService = ReturnType<typeof policyServiceFactory>;
