import { sql, type Kysely, type Transaction } from "kysely";
import { dynamicSecretsGoingWith } from "./dynamic-secrets.js";
import { dialectOf } from "./prepared.js";
import type { Database, EnvironmentTable, FolderTable, SecretImportTable } from "./schema.js";
import { bumpGeneration, underPath, type SecretsDb } from "./secrets.js";

/** Folders and the secret imports configured on them. `folders.path` is the canonical absolute path. */
export const folderStore = (database: Kysely<Database>) => {
  const db = database as unknown as Kysely<SecretsDb>;
  return {
    /**
     * An environment (by slug) and its folder at `path`, in one round trip: the first thing every secrets
     * request needs. Undefined when the environment does not exist; `folder` undefined when the path does not.
     */
    locate: async (projectId: string, envSlug: string, path: string): Promise<{ env: EnvironmentTable; folder: FolderTable | undefined } | undefined> => {
      const r = await db.selectFrom("environments")
        .leftJoin("folders", (j) => j.onRef("folders.env_id", "=", "environments.id").on("folders.path", "=", path))
        .select([
          "environments.id as e_id", "environments.project_id as e_project_id", "environments.name as e_name", "environments.slug as e_slug",
          "environments.position as e_position", "environments.created_at as e_created_at", "environments.updated_at as e_updated_at",
          "folders.id as f_id", "folders.parent_id as f_parent_id", "folders.name as f_name", "folders.path as f_path", "folders.version as f_version",
          "folders.description as f_description", "folders.last_secret_modified as f_last_secret_modified",
          "folders.created_at as f_created_at", "folders.updated_at as f_updated_at",
        ])
        .where("environments.project_id", "=", projectId).where("environments.slug", "=", envSlug).executeTakeFirst();
      if (!r) return undefined;
      const env: EnvironmentTable = { id: r.e_id, project_id: r.e_project_id, name: r.e_name, slug: r.e_slug, position: r.e_position, created_at: r.e_created_at, updated_at: r.e_updated_at };
      const folder: FolderTable | undefined = r.f_id === null ? undefined : {
        id: r.f_id, env_id: r.e_id, parent_id: r.f_parent_id, name: r.f_name!, path: r.f_path!, version: r.f_version!, description: r.f_description,
        last_secret_modified: r.f_last_secret_modified, created_at: r.f_created_at!, updated_at: r.f_updated_at!,
      };
      return { env, folder };
    },
    getByPath: (envId: string, path: string) =>
      db.selectFrom("folders").selectAll().where("env_id", "=", envId).where("path", "=", path).executeTakeFirst(),
    /** A folder with its project and environment slug (for lookups by id alone). */
    getLocated: (id: string) =>
      db.selectFrom("folders").innerJoin("environments", "environments.id", "folders.env_id").selectAll("folders")
        .select(["environments.project_id as project_id", "environments.slug as env_slug"]).where("folders.id", "=", id).executeTakeFirst(),
    /** The folders that exist among `paths` of one environment (used to find the closest existing ancestor). */
    listByPaths: (envId: string, paths: string[]) =>
      paths.length ? db.selectFrom("folders").selectAll().where("env_id", "=", envId).where("path", "in", paths).execute() : Promise.resolve([]),
    listChildren: (parentId: string) => db.selectFrom("folders").selectAll().where("parent_id", "=", parentId).orderBy("name").execute(),
    /** Every folder strictly below `path`, ordered by path. */
    listBelow: (envId: string, path: string) => {
      let q = db.selectFrom("folders").selectAll().where("env_id", "=", envId);
      q = path === "/" ? q.where("path", "!=", "/") : q.where(underPath("path", path));
      return q.orderBy("path").execute();
    },

    /**
     * Creates missing intermediate folders and the folder itself (`rows`, parents first, the folder last) in one
     * transaction, and answers the rows it inserted. An intermediate folder that a concurrent request created
     * meanwhile is used as it is (its id becomes the next row's parent): two requests creating `/a/b/x` and
     * `/a/b/y` both succeed, where the second used to fail on `/a` with a false "already exists". The folder
     * itself is a plain insert, so a duplicate of it is still a unique violation.
     */
    create: (projectId: string, rows: FolderTable[]) =>
      db.transaction().execute(async (tx) => {
        const inserted: FolderTable[] = [];
        let parentId: string | null | undefined;
        for (const [i, planned] of rows.entries()) {
          const row = parentId === undefined ? planned : { ...planned, parent_id: parentId };
          if (i === rows.length - 1) {
            await tx.insertInto("folders").values(row).execute();
            inserted.push(row);
            break;
          }
          const r = await tx.insertInto("folders").values(row).onConflict((oc) => oc.columns(["env_id", "path"]).doNothing()).returning("id").executeTakeFirst();
          if (r) {
            inserted.push(row);
            parentId = row.id;
          } else {
            const existing = await tx.selectFrom("folders").select("id").where("env_id", "=", row.env_id).where("path", "=", row.path).executeTakeFirstOrThrow();
            parentId = existing.id;
          }
        }
        await bumpGeneration(tx, projectId);
        return inserted;
      }),

    /**
     * Renames or re-describes a folder. A rename rewrites the stored path of every folder below it and of
     * every import that points into the subtree, so nothing keeps pointing at the old name.
     */
    update: (projectId: string, folder: FolderTable, patch: { name: string; path: string; description: string | null; updated_at: string }) =>
      db.transaction().execute(async (tx) => {
        await tx.updateTable("folders").set({ ...patch, version: folder.version + 1 }).where("id", "=", folder.id).execute();
        if (patch.path !== folder.path) {
          const rest = sql<string>`substr(path, ${folder.path.length + 1})`;
          await tx.updateTable("folders").set({ path: sql`cast(${patch.path} as text) || ${rest}` })
            .where("env_id", "=", folder.env_id).where(underPath("path", folder.path)).execute();
          const restImport = sql<string>`substr(import_path, ${folder.path.length + 1})`;
          await tx.updateTable("secret_imports").set({ import_path: patch.path })
            .where("import_env_id", "=", folder.env_id).where("import_path", "=", folder.path).execute();
          await tx.updateTable("secret_imports").set({ import_path: sql`cast(${patch.path} as text) || ${restImport}` })
            .where("import_env_id", "=", folder.env_id).where(underPath("import_path", folder.path)).execute();
        }
        await bumpGeneration(tx, projectId);
      }),

    /**
     * Deletes the folder; sub-folders, their secrets, versions, imports and dynamic secrets cascade. Answers
     * the dynamic secrets that went with it; false, deleting nothing, while a dynamic-secret lease is recorded
     * in the subtree.
     */
    delete: (projectId: string, folder: Pick<FolderTable, "id" | "env_id" | "path">) =>
      db.transaction().execute(async (tx) => {
        const going = await dynamicSecretsGoingWith(tx as unknown as Transaction<Database>, { kind: "folder", envId: folder.env_id, path: folder.path });
        if (!going) return false;
        await tx.deleteFrom("folders").where("id", "=", folder.id).execute();
        await bumpGeneration(tx, projectId);
        return going;
      }),

    // Secret imports ------------------------------------------------------------------------------
    listImports: (folderId: string) =>
      db.selectFrom("secret_imports").selectAll().where("folder_id", "=", folderId).orderBy("position").orderBy("created_at").execute(),
    getImport: (id: string) => db.selectFrom("secret_imports").selectAll().where("id", "=", id).executeTakeFirst(),
    /**
     * Appends an import after the folder's last one; undefined, adding nothing, when the folder already imports
     * that environment and path. Concurrent creates on one folder take turns (the folder row is locked on
     * PostgreSQL; SQLite runs one transaction at a time), so the duplicate check and the next position see
     * each other's rows: without the lock, simultaneous requests all passed the check and shared positions.
     */
    createImport: (projectId: string, row: Omit<SecretImportTable, "position">) =>
      db.transaction().execute(async (tx): Promise<SecretImportTable | undefined> => {
        if (dialectOf(tx as unknown as Kysely<Database>) === "postgres")
          await tx.selectFrom("folders").select("id").where("id", "=", row.folder_id).forUpdate().execute();
        const duplicate = await tx.selectFrom("secret_imports").select("id").where("folder_id", "=", row.folder_id)
          .where("import_env_id", "=", row.import_env_id).where("import_path", "=", row.import_path).executeTakeFirst();
        if (duplicate) return undefined;
        const last = await tx.selectFrom("secret_imports").select((eb) => eb.fn.max("position").as("max")).where("folder_id", "=", row.folder_id).executeTakeFirst();
        const created: SecretImportTable = { ...row, position: Number(last?.max ?? 0) + 1 };
        await tx.insertInto("secret_imports").values(created).execute();
        await bumpGeneration(tx, projectId);
        return created;
      }),
    deleteImport: (projectId: string, id: string) =>
      db.transaction().execute(async (tx) => {
        await tx.deleteFrom("secret_imports").where("id", "=", id).execute();
        await bumpGeneration(tx, projectId);
      }),
  };
};
export type FolderStore = ReturnType<typeof folderStore>;
