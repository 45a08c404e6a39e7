import type { Actor } from "../actor.js";
import { ForbiddenError, NotFoundError } from "../errors.js";
import type { ProjectStore } from "../../store/projects.js";
import type { ProjectTable } from "../../store/schema.js";
import type { Clock } from "../clock.js";

/** Built-in project roles, weakest first: `viewer` reads, `member` reads and writes secrets and issues certificates, `admin` manages the project. */
export const PROJECT_ROLES = ["no-access", "viewer", "member", "admin"] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];
const rank = (r: string) => PROJECT_ROLES.indexOf(r as ProjectRole);

type Deps = { store: Pick<ProjectStore, "getWithRole" | "getBySlugWithRole">; clock: Clock };

/** A membership as the permission check reads it: its role, and the window of a temporary one. */
export interface MemberRole { member_role: string | null; member_access_starts_at?: string | null; member_access_ends_at?: string | null }

/**
 * The one place that decides whether an identity may act on a project. A project of another organization
 * is reported as not found, so its existence does not leak; an organization admin may do everything.
 */
export const projectAccessFactory = ({ store, clock }: Deps) => {
  /** The role the membership grants now: none before a temporary one starts or once it has ended. */
  const roleNow = (m: MemberRole): string | undefined => {
    if (m.member_role === null) return undefined;
    const now = clock.now();
    if (m.member_access_starts_at && Date.parse(m.member_access_starts_at) > now) return undefined;
    if (m.member_access_ends_at && Date.parse(m.member_access_ends_at) <= now) return undefined;
    return m.member_role;
  };
  const decide = (actor: Actor, project: { id: string; org_id: string } | undefined, ref: string, min: ProjectRole, role: () => string | undefined) => {
    if (!project || project.org_id !== actor.orgId) throw new NotFoundError(`Project with ${ref} not found`);
    if (actor.orgRole === "admin") return;
    const r = role();
    if (r === undefined || rank(r) < rank(min))
      throw new ForbiddenError(`Permission denied: this action needs the project role '${min}' or higher in project ${project.id}`);
  };
  /** `row`: the project with the actor's role in it, read in one query. */
  const check = (actor: Actor, row: (ProjectTable & MemberRole) | undefined, ref: string, min: ProjectRole): ProjectTable => {
    const { member_role, member_access_starts_at, member_access_ends_at, ...project } = row ?? { member_role: null };
    decide(actor, row ? (project as ProjectTable) : undefined, ref, min, () => roleNow({ member_role, member_access_starts_at, member_access_ends_at }));
    return project as ProjectTable;
  };
  /**
   * The same decision for a caller that fetched the project's organization and the actor's membership role
   * along with its own rows (the issuance hot path does, in one query): `role` undefined = no membership.
   */
  const requireLoaded = (actor: Actor, project: { id: string; org_id: string } | undefined, membership: MemberRole, min: ProjectRole): void =>
    decide(actor, project, project ? `ID ${project.id}` : "that ID", min, () => roleNow(membership));
  const requireProject = async (actor: Actor, projectId: string, min: ProjectRole) =>
    check(actor, await store.getWithRole(projectId, actor.identityId), `ID ${projectId}`, min);
  const requireProjectBySlug = async (actor: Actor, slug: string, min: ProjectRole) =>
    check(actor, await store.getBySlugWithRole(actor.orgId, slug, actor.identityId), `slug '${slug}'`, min);
  return { requireProject, requireProjectBySlug, requireLoaded };
};
export type ProjectAccess = ReturnType<typeof projectAccessFactory>;
