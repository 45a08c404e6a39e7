import type { Clock } from "../clock.js";
import type { Actor } from "../actor.js";
import { BadRequestError, ForbiddenError, NotFoundError } from "../errors.js";
import { newId, SLUG, slugify } from "../ids.js";
import { isoNow } from "../time.js";
import { parseDuration } from "../../config/duration.js";
import { randomBytes } from "node:crypto";
import type { ProjectStore } from "../../store/projects.js";
import type { IdentityStore } from "../../store/identities.js";
import type { EnvironmentTable, FolderTable, MembershipTable, ProjectTable } from "../../store/schema.js";
import type { AuditService } from "../audit/audit-service.js";
import type { DeleteDynamicSecretsIn } from "../dynamic-secrets/scope-deletion.js";
import type { ProjectAccess } from "./access.js";
import type { ProjectKeys } from "./project-keys.js";
import { environmentBySlugFrom } from "./environments.js";
import { PROJECT_ROLES } from "./access.js";

export const PROJECT_TYPES = ["secret-manager", "cert-manager", "kms", "ssh", "secret-scanning", "pam"] as const;
const DEFAULT_ENVS = [
  { name: "Development", slug: "dev" },
  { name: "Staging", slug: "staging" },
  { name: "Production", slug: "prod" },
];

type Deps = {
  store: ProjectStore;
  identities: Pick<IdentityStore, "getIdentity">;
  access: ProjectAccess;
  keys: Pick<ProjectKeys, "newWrappedKey">;
  audit: Pick<AuditService, "record">;
  /** Deletes a project or environment only after the leases of its dynamic secrets are revoked at their targets. */
  deleteDynamicSecretsIn: DeleteDynamicSecretsIn;
  clock: Clock;
};

const rootFolder = (envId: string, now: string): FolderTable => ({
  id: newId(), env_id: envId, parent_id: null, name: "root", path: "/", version: 1, description: null,
  last_secret_modified: null, created_at: now, updated_at: now,
});

export const projectServiceFactory = ({ store, identities, access, keys, audit, deleteDynamicSecretsIn, clock }: Deps) => {
  const envView = (e: EnvironmentTable) => ({ id: e.id, name: e.name, slug: e.slug, position: e.position, projectId: e.project_id, createdAt: e.created_at, updatedAt: e.updated_at });

  const view = async (p: ProjectTable) => ({
    id: p.id, _id: p.id, name: p.name, slug: p.slug, description: p.description, type: p.type, orgId: p.org_id, version: 3,
    autoCapitalization: !!p.auto_capitalization, hasDeleteProtection: !!p.has_delete_protection, pitVersionLimit: 10,
    createdAt: p.created_at, updatedAt: p.updated_at,
    environments: (await store.listEnvironments(p.id)).map((e) => ({ id: e.id, name: e.name, slug: e.slug })),
  });

  const create = async (actor: Actor, dto: { projectName: string; projectDescription?: string; slug?: string; type?: string; shouldCreateDefaultEnvs?: boolean; hasDeleteProtection?: boolean }) => {
    // Organization members and admins may create projects (and become their admin); `no-access` may not.
    if (actor.orgRole !== "admin" && actor.orgRole !== "member") throw new ForbiddenError("Creating a project needs the organization role 'member' or 'admin'");
    const type = dto.type ?? "secret-manager";
    if (!(PROJECT_TYPES as readonly string[]).includes(type)) throw new BadRequestError(`type: unknown project type "${type}"`);
    const slug = dto.slug ?? `${slugify(dto.projectName)}-${randomBytes(3).toString("hex")}`;
    if (!SLUG.test(slug) || slug.length < 5 || slug.length > 36) throw new BadRequestError(`slug: "${slug}" must be 5-36 characters of a-z, 0-9 and dashes`);
    if (await store.getBySlug(actor.orgId, slug)) throw new BadRequestError(`A project with slug '${slug}' already exists`);
    const now = isoNow(clock);
    const id = newId();
    const p: ProjectTable = {
      id, org_id: actor.orgId, name: dto.projectName, slug, description: dto.projectDescription ?? null, type,
      encrypted_data_key: keys.newWrappedKey(id), auto_capitalization: 0, has_delete_protection: dto.hasDeleteProtection ? 1 : 0,
      created_at: now, updated_at: now,
    };
    const envs: EnvironmentTable[] = dto.shouldCreateDefaultEnvs === false ? [] :
      DEFAULT_ENVS.map((e, i) => ({ id: newId(), project_id: id, name: e.name, slug: e.slug, position: i + 1, created_at: now, updated_at: now }));
    await store.create(p, envs, envs.map((e) => rootFolder(e.id, now)), {
      id: newId(), project_id: id, identity_id: actor.identityId, role: "admin", created_at: now, updated_at: now,
    });
    await audit.record(actor, { action: "create-project", resourceType: "project", resourceId: id, projectId: id, metadata: { slug, type } });
    return view(p);
  };

  const get = async (actor: Actor, id: string) => view(await access.requireProject(actor, id, "viewer"));
  const getBySlug = async (actor: Actor, slug: string) => view(await access.requireProjectBySlug(actor, slug, "viewer"));
  const list = async (actor: Actor, type?: string) => {
    const rows = actor.orgRole === "admin" ? await store.listForOrg(actor.orgId) : await store.listForIdentity(actor.identityId, isoNow(clock));
    return Promise.all(rows.filter((p) => !type || p.type === type).map(view));
  };

  const update = async (actor: Actor, id: string, dto: { name?: string; description?: string; slug?: string; autoCapitalization?: boolean; hasDeleteProtection?: boolean }) => {
    const p = await access.requireProject(actor, id, "admin");
    const patch: Partial<ProjectTable> = { updated_at: isoNow(clock) };
    if (dto.slug !== undefined && dto.slug !== p.slug) {
      if (!SLUG.test(dto.slug) || dto.slug.length < 5 || dto.slug.length > 36) throw new BadRequestError(`slug: "${dto.slug}" must be 5-36 characters of a-z, 0-9 and dashes`);
      if (await store.getBySlug(actor.orgId, dto.slug)) throw new BadRequestError(`A project with slug '${dto.slug}' already exists`);
      patch.slug = dto.slug;
    }
    if (dto.name !== undefined) patch.name = dto.name;
    if (dto.description !== undefined) patch.description = dto.description;
    if (dto.autoCapitalization !== undefined) patch.auto_capitalization = dto.autoCapitalization ? 1 : 0;
    if (dto.hasDeleteProtection !== undefined) patch.has_delete_protection = dto.hasDeleteProtection ? 1 : 0;
    await store.update(id, patch);
    await audit.record(actor, { action: "update-project", resourceType: "project", resourceId: id, projectId: id });
    return view({ ...p, ...patch });
  };

  const remove = async (actor: Actor, id: string) => {
    const p = await access.requireProject(actor, id, "admin");
    if (p.has_delete_protection) throw new BadRequestError("Project has delete protection enabled");
    const v = await view(p);
    await deleteDynamicSecretsIn(actor, { projectId: id, scope: { kind: "project", projectId: id }, what: `Project '${p.slug}'`, drop: () => store.delete(id) });
    await audit.record(actor, { action: "delete-project", resourceType: "project", resourceId: id });
    return v;
  };

  // Environments -------------------------------------------------------------------------------
  const environmentBySlug = environmentBySlugFrom(store);

  const createEnvironment = async (actor: Actor, projectId: string, dto: { name: string; slug: string; position?: number }) => {
    await access.requireProject(actor, projectId, "admin");
    if (!SLUG.test(dto.slug) || dto.slug.length > 64) throw new BadRequestError(`slug: "${dto.slug}" must be up to 64 characters of a-z, 0-9 and dashes`);
    if (await store.getEnvironmentBySlug(projectId, dto.slug)) throw new BadRequestError(`Environment with slug '${dto.slug}' already exists`);
    const now = isoNow(clock);
    const existing = await store.listEnvironments(projectId);
    const env: EnvironmentTable = {
      id: newId(), project_id: projectId, name: dto.name, slug: dto.slug,
      position: dto.position ?? existing.reduce((m, e) => Math.max(m, e.position), 0) + 1, created_at: now, updated_at: now,
    };
    await store.createEnvironment(env, rootFolder(env.id, now));
    await audit.record(actor, { action: "create-environment", resourceType: "environment", resourceId: env.id, projectId, metadata: { slug: env.slug } });
    return envView(env);
  };

  const getEnvironment = async (actor: Actor, projectId: string, ref: { id?: string; slug?: string }) => {
    await access.requireProject(actor, projectId, "viewer");
    const e = ref.id ? await store.getEnvironment(projectId, ref.id) : await store.getEnvironmentBySlug(projectId, ref.slug!);
    if (!e) throw new NotFoundError(ref.id ? `Environment with ID ${ref.id} not found` : `Environment with slug '${ref.slug}' in project with ID ${projectId} not found`);
    return envView(e);
  };

  const updateEnvironment = async (actor: Actor, projectId: string, envId: string, dto: { name?: string; slug?: string; position?: number }) => {
    await access.requireProject(actor, projectId, "admin");
    const e = await store.getEnvironment(projectId, envId);
    if (!e) throw new NotFoundError(`Environment with ID ${envId} not found`);
    if (dto.slug !== undefined && dto.slug !== e.slug) {
      if (!SLUG.test(dto.slug)) throw new BadRequestError(`slug: "${dto.slug}" must be a-z, 0-9 and dashes`);
      if (await store.getEnvironmentBySlug(projectId, dto.slug)) throw new BadRequestError(`Environment with slug '${dto.slug}' already exists`);
    }
    const patch: Partial<EnvironmentTable> = { updated_at: isoNow(clock), ...(dto.name !== undefined && { name: dto.name }), ...(dto.slug !== undefined && { slug: dto.slug }), ...(dto.position !== undefined && { position: dto.position }) };
    await store.updateEnvironment(e.id, patch);
    await audit.record(actor, { action: "update-environment", resourceType: "environment", resourceId: e.id, projectId });
    return envView({ ...e, ...patch });
  };

  const deleteEnvironment = async (actor: Actor, projectId: string, envId: string) => {
    await access.requireProject(actor, projectId, "admin");
    const e = await store.getEnvironment(projectId, envId);
    if (!e) throw new NotFoundError(`Environment with ID ${envId} not found`);
    await deleteDynamicSecretsIn(actor, { projectId, scope: { kind: "environment", envId: e.id }, what: `Environment '${e.slug}'`, drop: () => store.deleteEnvironment(e.id) });
    await audit.record(actor, { action: "delete-environment", resourceType: "environment", resourceId: e.id, projectId });
    return envView(e);
  };

  // Identity memberships -----------------------------------------------------------------------
  type RoleDto = { role: string; isTemporary?: boolean; temporaryMode?: string; temporaryRange?: string; temporaryAccessStartTime?: string };
  type MembershipDto = { role?: string; roles?: RoleDto[] };
  /**
   * The role a membership request grants, and its window when temporary (Infisical's `isTemporary` roles:
   * `temporaryMode: "relative"`, `temporaryRange` such as "1h", from `temporaryAccessStartTime`). A membership
   * holds one role: several are refused rather than all but one dropped.
   */
  const roleOf = (dto: MembershipDto): Pick<MembershipTable, "role" | "temporary_range" | "access_starts_at" | "access_ends_at"> => {
    if (dto.roles && dto.roles.length > 1) throw new BadRequestError(`roles: one role per membership is supported (got ${dto.roles.length})`);
    const r = dto.roles?.[0];
    const role = r?.role ?? dto.role ?? "no-access";
    if (!(PROJECT_ROLES as readonly string[]).includes(role)) throw new BadRequestError(`role: unknown project role "${role}" (one of ${PROJECT_ROLES.join(", ")})`);
    if (!r?.isTemporary) return { role, temporary_range: null, access_starts_at: null, access_ends_at: null };
    if (r.temporaryMode !== "relative") throw new BadRequestError(`roles[0].temporaryMode: must be "relative" for a temporary role`);
    if (!r.temporaryRange) throw new BadRequestError("roles[0].temporaryRange: required for a temporary role (e.g. \"1h\", \"7d\")");
    let range: number;
    try { range = parseDuration(r.temporaryRange); } catch (e) { throw new BadRequestError(`roles[0].temporaryRange: ${(e as Error).message}`); }
    if (range <= 0) throw new BadRequestError("roles[0].temporaryRange: must be positive");
    const start = r.temporaryAccessStartTime === undefined ? NaN : Date.parse(r.temporaryAccessStartTime);
    if (Number.isNaN(start)) throw new BadRequestError(`roles[0].temporaryAccessStartTime: ${r.temporaryAccessStartTime === undefined ? "required for a temporary role" : `"${r.temporaryAccessStartTime}" is not an ISO date`}`);
    return { role, temporary_range: r.temporaryRange, access_starts_at: new Date(start).toISOString(), access_ends_at: new Date(start + range).toISOString() };
  };
  const membershipView = (m: Omit<MembershipTable, "role"> & { role: string }, name?: string, orgId?: string) => {
    const temporary = !!m.access_ends_at;
    return {
      id: m.id, projectId: m.project_id, identityId: m.identity_id, createdAt: m.created_at, updatedAt: m.updated_at,
      roles: [{
        id: m.id, role: m.role, isTemporary: temporary,
        ...(temporary && { temporaryMode: "relative", temporaryRange: m.temporary_range, temporaryAccessStartTime: m.access_starts_at, temporaryAccessEndTime: m.access_ends_at }),
      }],
      ...(name !== undefined ? { identity: { id: m.identity_id, name, orgId } } : {}),
    };
  };

  const addMembership = async (actor: Actor, projectId: string, identityId: string, dto: MembershipDto) => {
    const p = await access.requireProject(actor, projectId, "admin");
    const identity = await identities.getIdentity(identityId);
    if (!identity || identity.org_id !== p.org_id) throw new NotFoundError(`Identity with ID ${identityId} not found`);
    if (await store.getMembership(projectId, identityId)) throw new BadRequestError("Identity is already a member of this project");
    const now = isoNow(clock);
    const m: MembershipTable = { id: newId(), project_id: projectId, identity_id: identityId, ...roleOf(dto), created_at: now, updated_at: now };
    await store.insertMembership(m);
    await audit.record(actor, { action: "add-identity-membership", resourceType: "identity", resourceId: identityId, projectId, metadata: { role: m.role, ...(m.access_ends_at && { until: m.access_ends_at }) } });
    return membershipView(m);
  };

  const requireMembership = async (projectId: string, identityId: string) => {
    const m = await store.getMembership(projectId, identityId);
    if (!m) throw new NotFoundError(`Identity ${identityId} is not a member of project ${projectId}`);
    return m;
  };

  const updateMembership = async (actor: Actor, projectId: string, identityId: string, dto: MembershipDto) => {
    await access.requireProject(actor, projectId, "admin");
    const m = await requireMembership(projectId, identityId);
    const patch = { ...roleOf(dto), updated_at: isoNow(clock) };
    await store.updateMembership(m.id, patch);
    await audit.record(actor, { action: "update-identity-membership", resourceType: "identity", resourceId: identityId, projectId, metadata: { role: patch.role, ...(patch.access_ends_at && { until: patch.access_ends_at }) } });
    return membershipView({ ...m, ...patch });
  };

  const deleteMembership = async (actor: Actor, projectId: string, identityId: string) => {
    await access.requireProject(actor, projectId, "admin");
    const m = await requireMembership(projectId, identityId);
    await store.deleteMembership(m.id);
    await audit.record(actor, { action: "delete-identity-membership", resourceType: "identity", resourceId: identityId, projectId });
    return membershipView(m);
  };

  const getMembership = async (actor: Actor, projectId: string, identityId: string) => {
    await access.requireProject(actor, projectId, "admin");
    return membershipView(await requireMembership(projectId, identityId));
  };

  const listMemberships = async (actor: Actor, projectId: string) => {
    await access.requireProject(actor, projectId, "admin");
    return (await store.listMemberships(projectId)).map((m) => membershipView(m, m.name, m.org_id));
  };

  return {
    create, get, getBySlug, list, update, remove, environmentBySlug,
    createEnvironment, getEnvironment, updateEnvironment, deleteEnvironment,
    addMembership, updateMembership, deleteMembership, getMembership, listMemberships,
  };
};
export type ProjectService = ReturnType<typeof projectServiceFactory>;
