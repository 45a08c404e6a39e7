import type { Kysely } from "kysely";
import type { Database, EnvironmentTable, FolderTable, MembershipTable, ProjectTable } from "./schema.js";
import { dynamicSecretsGoingWith } from "./dynamic-secrets.js";
import { prepare } from "./prepared.js";

export const projectStore = (db: Kysely<Database>) => {
  // The permission check of every project-scoped request: the project and the caller's role in one query.
  const byIdWithRole = prepare(db, (id: string, identityId: string) =>
    db.selectFrom("projects as p").leftJoin("memberships as m", (j) => j.onRef("m.project_id", "=", "p.id").on("m.identity_id", "=", identityId))
      .selectAll("p").select(["m.role as member_role", "m.access_starts_at as member_access_starts_at", "m.access_ends_at as member_access_ends_at"]).where("p.id", "=", id));
  const bySlugWithRole = prepare(db, (orgId: string, slug: string, identityId: string) =>
    db.selectFrom("projects as p").leftJoin("memberships as m", (j) => j.onRef("m.project_id", "=", "p.id").on("m.identity_id", "=", identityId))
      .selectAll("p").select(["m.role as member_role", "m.access_starts_at as member_access_starts_at", "m.access_ends_at as member_access_ends_at"]).where("p.org_id", "=", orgId).where("p.slug", "=", slug));
  return {
    /** The project with `member_role`, the identity's role in it (null: no membership). */
    getWithRole: (id: string, identityId: string) => byIdWithRole.first(id, identityId),
    getBySlugWithRole: (orgId: string, slug: string, identityId: string) => bySlugWithRole.first(orgId, slug, identityId),
    /** A project is created with its default environments, their root folders and the creator's admin membership, or not at all. */
    create: (p: ProjectTable, envs: EnvironmentTable[], roots: FolderTable[], membership: MembershipTable | null) =>
      db.transaction().execute(async (tx) => {
        await tx.insertInto("projects").values(p).execute();
        if (envs.length) await tx.insertInto("environments").values(envs).execute();
        if (roots.length) await tx.insertInto("folders").values(roots).execute();
        if (membership) await tx.insertInto("memberships").values(membership).execute();
      }),
    get: (id: string) => db.selectFrom("projects").selectAll().where("id", "=", id).executeTakeFirst(),
    getBySlug: (orgId: string, slug: string) => db.selectFrom("projects").selectAll().where("org_id", "=", orgId).where("slug", "=", slug).executeTakeFirst(),
    listForOrg: (orgId: string) => db.selectFrom("projects").selectAll().where("org_id", "=", orgId).orderBy("created_at").execute(),
    /** The projects an identity holds a role in at `now` (a temporary one counts only within its window). */
    listForIdentity: (identityId: string, now: string) =>
      db.selectFrom("projects").innerJoin("memberships", "memberships.project_id", "projects.id")
        .selectAll("projects").where("memberships.identity_id", "=", identityId)
        .where((w) => w.or([w("memberships.access_starts_at", "is", null), w("memberships.access_starts_at", "<=", now)]))
        .where((w) => w.or([w("memberships.access_ends_at", "is", null), w("memberships.access_ends_at", ">", now)]))
        .orderBy("projects.created_at").execute(),
    update: (id: string, patch: Partial<ProjectTable>) => db.updateTable("projects").set(patch).where("id", "=", id).execute(),
    /**
     * Deletes the project with everything in it and answers the dynamic secrets that went with it; false,
     * deleting nothing, while a dynamic-secret lease is recorded in it.
     */
    delete: (id: string) =>
      db.transaction().execute(async (tx) => {
        const going = await dynamicSecretsGoingWith(tx, { kind: "project", projectId: id });
        if (going) await tx.deleteFrom("projects").where("id", "=", id).execute();
        return going;
      }),

    listEnvironments: (projectId: string) => db.selectFrom("environments").selectAll().where("project_id", "=", projectId).orderBy("position").execute(),
    getEnvironment: (projectId: string, id: string) =>
      db.selectFrom("environments").selectAll().where("project_id", "=", projectId).where("id", "=", id).executeTakeFirst(),
    getEnvironmentBySlug: (projectId: string, slug: string) =>
      db.selectFrom("environments").selectAll().where("project_id", "=", projectId).where("slug", "=", slug).executeTakeFirst(),
    createEnvironment: (env: EnvironmentTable, root: FolderTable) =>
      db.transaction().execute(async (tx) => {
        await tx.insertInto("environments").values(env).execute();
        await tx.insertInto("folders").values(root).execute();
      }),
    updateEnvironment: (id: string, patch: Partial<EnvironmentTable>) => db.updateTable("environments").set(patch).where("id", "=", id).execute(),
    /**
     * Deletes the environment with everything in it and answers the dynamic secrets that went with it; false,
     * deleting nothing, while a dynamic-secret lease is recorded in it.
     */
    deleteEnvironment: (id: string) =>
      db.transaction().execute(async (tx) => {
        const going = await dynamicSecretsGoingWith(tx, { kind: "environment", envId: id });
        if (going) await tx.deleteFrom("environments").where("id", "=", id).execute();
        return going;
      }),

    getMembership: (projectId: string, identityId: string) =>
      db.selectFrom("memberships").selectAll().where("project_id", "=", projectId).where("identity_id", "=", identityId).executeTakeFirst(),
    listMemberships: (projectId: string) =>
      db.selectFrom("memberships").innerJoin("identities", "identities.id", "memberships.identity_id")
        .select(["memberships.id", "memberships.project_id", "memberships.identity_id", "memberships.role", "memberships.temporary_range", "memberships.access_starts_at",
          "memberships.access_ends_at", "memberships.created_at", "memberships.updated_at", "identities.name", "identities.org_id"])
        .where("memberships.project_id", "=", projectId).orderBy("memberships.created_at").execute(),
    insertMembership: (m: MembershipTable) => db.insertInto("memberships").values(m).execute(),
    updateMembership: (id: string, patch: Partial<MembershipTable>) => db.updateTable("memberships").set(patch).where("id", "=", id).execute(),
    deleteMembership: (id: string) => db.deleteFrom("memberships").where("id", "=", id).execute(),
  };
};
export type ProjectStore = ReturnType<typeof projectStore>;
