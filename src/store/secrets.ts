import { sql, type Kysely, type Transaction } from "kysely";
import type { AuditLogTable, Database, SecretTable, SecretVersionTable, TagTable } from "./schema.js";
import { REMINDER_NOTE_SEALING } from "./migrations/008_seal_reminder_notes.js";

/** Columns and tables added by migration 003_secrets, declared here so schema.ts stays as it is. */
export interface SecretVersionRow extends SecretVersionTable { extra: string }
export interface SecretGenerationTable { project_id: string; generation: number }
export type SecretsDb = Omit<Database, "secret_versions"> & { secret_versions: SecretVersionRow; secret_generations: SecretGenerationTable };
type Tx = Transaction<SecretsDb>;

/** A secret row with where it lives: its folder path and environment slug. */
export interface LocatedSecretRow extends SecretTable { secret_path: string; env_slug: string }

/** Both dialects report a unique-constraint violation differently; callers turn it into a 400. */
export const isUniqueViolation = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
};

/**
 * A row refers to one that is gone: a concurrent request deleted the folder (or parent) a write goes into
 * between the service's check and the insert. Callers answer the same 404 the check would have given.
 */
export const isForeignKeyViolation = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "23503" || code === "SQLITE_CONSTRAINT_FOREIGNKEY";
};

/** Every write to a project's secrets, folders, imports or tags bumps its generation in the same transaction. */
export const bumpGeneration = (tx: Tx, projectId: string) =>
  tx.insertInto("secret_generations").values({ project_id: projectId, generation: 1 })
    .onConflict((oc) => oc.column("project_id").doUpdateSet({ generation: sql`secret_generations.generation + 1` }))
    .execute();

/**
 * Every secret write touches its folder row first: the folder's row lock is then the first lock each write
 * takes, as it is for a folder delete (which locks the folders of its subtree before the cascade reaches
 * their secrets). On PostgreSQL an update that locked the secret row first and the folder row second
 * deadlocked with a concurrent delete of the folder, which answered 500.
 */
const touchFolder = (tx: Tx, folderId: string, now: string) =>
  tx.updateTable("folders").set({ last_secret_modified: now }).where("id", "=", folderId).execute();

/** A write whose row changed or went meanwhile rolls back (the folder touch included) and answers false. */
const LOST_RACE = Symbol("lost race");
const lostRace = (e: unknown): false => {
  if (e === LOST_RACE) return false;
  throw e;
};

/** Several secret writes of one project that commit together (see `applyBatch`). */
export interface SecretBatch {
  projectId: string;
  /** The folders' `last_secret_modified`. */
  now: string;
  creates: { row: SecretTable; version: SecretVersionRow }[];
  /** `current` as read: the update applies only while the row is still at `current.version`. */
  updates: { current: SecretTable; patch: Partial<SecretTable>; version: SecretVersionRow }[];
  deletes: SecretTable[];
  /** The batch's audit events, committed with it. */
  audit: AuditLogTable[];
}
/** A batch row that changed or went between the read and the write. */
class LostRow extends Error {
  constructor(readonly id: string) { super(`secret ${id} changed meanwhile`); }
}
// Rows per multi-row INSERT: 17 columns × 50 stays under SQLite's oldest bound of 999 parameters.
const ROW_CHUNK = 50;
const KEY_CHUNK = 500;

/** A stored field to replace only if it still holds what was read (`from`): a concurrent writer wins. */
export interface FieldSwap { id: string; from: string; to: string }

/** The first 1 + length characters of a path column equal `prefix/`: a subtree test without LIKE wildcards. */
export const underPath = (column: string, path: string) => sql<boolean>`substr(${sql.ref(column)}, 1, ${path.length + 1}) = ${`${path}/`}`;

export const secretStore = (database: Kysely<Database>) => {
  const db = database as unknown as Kysely<SecretsDb>;
  const located = () =>
    db.selectFrom("secrets")
      .innerJoin("folders", "folders.id", "secrets.folder_id")
      .innerJoin("environments", "environments.id", "secrets.env_id")
      .selectAll("secrets")
      .select(["folders.path as secret_path", "environments.slug as env_slug"]);

  return {
    generation: async (projectId: string): Promise<number> =>
      (await db.selectFrom("secret_generations").select("generation").where("project_id", "=", projectId).executeTakeFirst())?.generation ?? 0,
    /** The generation and every environment's id, slug and update time, in one round trip (see core list-cache.ts). */
    stamp: async (projectId: string): Promise<string> => {
      const rows = await db.selectFrom("environments")
        .leftJoin("secret_generations", "secret_generations.project_id", "environments.project_id")
        .select(["environments.id", "environments.slug", "environments.updated_at", "secret_generations.generation"])
        .where("environments.project_id", "=", projectId).orderBy("environments.id").execute();
      return `${rows[0]?.generation ?? 0}|${rows.map((e) => `${e.id}:${e.slug}:${e.updated_at}`).join(",")}`;
    },

    listByFolder: (folderId: string) =>
      db.selectFrom("secrets").selectAll().where("folder_id", "=", folderId).orderBy("key").orderBy("type").execute(),
    /** Secrets of the folder at `path` and of every folder below it, ordered by folder path, then key. */
    listUnder: (envId: string, path: string): Promise<LocatedSecretRow[]> => {
      let q = located().where("secrets.env_id", "=", envId);
      if (path !== "/") q = q.where((eb) => eb.or([eb("folders.path", "=", path), underPath("folders.path", path)]));
      return q.orderBy("folders.path").orderBy("secrets.key").orderBy("secrets.type").execute();
    },
    getByKey: (folderId: string, key: string, type: string) =>
      db.selectFrom("secrets").selectAll().where("folder_id", "=", folderId).where("key", "=", key).where("type", "=", type).executeTakeFirst(),
    getById: (id: string): Promise<LocatedSecretRow | undefined> => located().where("secrets.id", "=", id).executeTakeFirst(),
    getVersion: (secretId: string, version: number) =>
      db.selectFrom("secret_versions").selectAll().where("secret_id", "=", secretId).where("version", "=", version).executeTakeFirst(),
    listVersions: (secretId: string) =>
      db.selectFrom("secret_versions").selectAll().where("secret_id", "=", secretId).orderBy("version", "desc").execute(),

    /** The secret, its first version row, the folder's modification time and the generation: all or nothing. */
    create: (row: SecretTable, version: SecretVersionRow) =>
      db.transaction().execute(async (tx) => {
        await touchFolder(tx, row.folder_id, row.updated_at);
        await tx.insertInto("secrets").values(row).execute();
        await tx.insertInto("secret_versions").values(version).execute();
        await bumpGeneration(tx, row.project_id);
      }),
    /**
     * Applies `patch` only if the row is still at `expectedVersion` (optimistic locking: two concurrent
     * updates cannot both claim the next version), and records the new version row. False on a lost race.
     */
    update: (current: SecretTable, expectedVersion: number, patch: Partial<SecretTable>, version: SecretVersionRow) =>
      db.transaction().execute(async (tx) => {
        await touchFolder(tx, current.folder_id, patch.updated_at ?? current.updated_at);
        const r = await tx.updateTable("secrets").set(patch).where("id", "=", current.id).where("version", "=", expectedVersion).executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) throw LOST_RACE;
        await tx.insertInto("secret_versions").values(version).execute();
        await bumpGeneration(tx, current.project_id);
        return true;
      }).catch(lostRace),
    /** Deletes the secret (its versions cascade). */
    delete: (row: SecretTable, now: string) =>
      db.transaction().execute(async (tx) => {
        await touchFolder(tx, row.folder_id, now);
        const r = await tx.deleteFrom("secrets").where("id", "=", row.id).executeTakeFirst();
        if (Number(r.numDeletedRows) !== 1) throw LOST_RACE;
        await bumpGeneration(tx, row.project_id);
        return true;
      }).catch(lostRace),

    /** The shared secrets of a folder with one of these keys (a batch checks which exist in one query per chunk). */
    getManyByKeys: async (folderId: string, keys: string[]): Promise<SecretTable[]> => {
      const out: SecretTable[] = [];
      for (let i = 0; i < keys.length; i += KEY_CHUNK) {
        out.push(...await db.selectFrom("secrets").selectAll().where("folder_id", "=", folderId).where("type", "=", "shared")
          .where("key", "in", keys.slice(i, i + KEY_CHUNK)).execute());
      }
      return out;
    },
    /**
     * A batch of creates, updates and deletes of one project's secrets in one transaction: all of them or
     * none. The folders are touched first, in id order (the lock order of single writes, and the same order
     * in every batch). Each update applies only if its row is still at the version read; an update or a
     * delete whose row changed or went meanwhile rolls everything back (the audit events too) and is answered
     * as `{ lost: id }`.
     * A unique or foreign-key violation (a concurrent create, rename or folder delete) rolls back and throws.
     */
    applyBatch: (b: SecretBatch): Promise<{ ok: true } | { ok: false; lost: string }> =>
      db.transaction().execute(async (tx) => {
        const folders = new Set([...b.creates.map((c) => c.row.folder_id), ...b.updates.map((u) => u.current.folder_id), ...b.deletes.map((d) => d.folder_id)]);
        for (const folderId of [...folders].sort()) await touchFolder(tx, folderId, b.now);
        for (const d of b.deletes) {
          const r = await tx.deleteFrom("secrets").where("id", "=", d.id).executeTakeFirst();
          if (Number(r.numDeletedRows) !== 1) throw new LostRow(d.id);
        }
        for (const u of b.updates) {
          const r = await tx.updateTable("secrets").set(u.patch).where("id", "=", u.current.id).where("version", "=", u.current.version).executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) throw new LostRow(u.current.id);
        }
        for (let i = 0; i < b.creates.length; i += ROW_CHUNK) {
          const chunk = b.creates.slice(i, i + ROW_CHUNK);
          await tx.insertInto("secrets").values(chunk.map((c) => c.row)).execute();
        }
        const versions = [...b.updates.map((u) => u.version), ...b.creates.map((c) => c.version)];
        for (let i = 0; i < versions.length; i += ROW_CHUNK) await tx.insertInto("secret_versions").values(versions.slice(i, i + ROW_CHUNK)).execute();
        for (let i = 0; i < b.audit.length; i += ROW_CHUNK) await tx.insertInto("audit_logs").values(b.audit.slice(i, i + ROW_CHUNK)).execute();
        await bumpGeneration(tx, b.projectId);
        return { ok: true as const };
      }).catch((e: unknown) => {
        if (e instanceof LostRow) return { ok: false as const, lost: e.id };
        throw e;
      }),

    // One-time sealing of reminder notes (migration 008, core/secrets/seal-reminder-notes.ts) -----
    reminderNoteSealingPending: async (): Promise<boolean> =>
      !!(await db.selectFrom("meta").select("key").where("key", "=", REMINDER_NOTE_SEALING).executeTakeFirst()),
    reminderNoteSealingDone: () => db.deleteFrom("meta").where("key", "=", REMINDER_NOTE_SEALING).execute(),
    /** Projects that have secrets (version rows belong to secrets, so this covers them too). */
    projectsWithSecrets: async (): Promise<string[]> =>
      (await db.selectFrom("secrets").select("project_id").distinct().orderBy("project_id").execute()).map((r) => r.project_id),
    /**
     * A project's stored notes: the secret rows that have one and the version rows whose `extra` holds one
     * (JSON.stringify writes the key exactly so), not every version: a project's history can be large.
     */
    reminderNotesOf: async (projectId: string) => ({
      secrets: (await db.selectFrom("secrets").select(["id", "reminder_note"]).where("project_id", "=", projectId)
        .where("reminder_note", "is not", null).execute()) as { id: string; reminder_note: string }[],
      versions: await db.selectFrom("secret_versions").innerJoin("secrets", "secrets.id", "secret_versions.secret_id")
        .select(["secret_versions.id", "secret_versions.secret_id", "secret_versions.extra"])
        .where("secrets.project_id", "=", projectId).where("secret_versions.extra", "like", '%"reminderNote":"%').execute(),
    }),
    /**
     * Replaces a project's notes in one transaction, all or nothing. Each row changes only if it still holds
     * what was read, so a write that came in meanwhile (already sealed) is kept; answers how many changed.
     * The generation stays: what a reader sees does not change.
     */
    swapReminderNotes: (swaps: { secrets: FieldSwap[]; versions: FieldSwap[] }) =>
      db.transaction().execute(async (tx) => {
        let changed = 0;
        for (const s of swaps.secrets) {
          const r = await tx.updateTable("secrets").set({ reminder_note: s.to }).where("id", "=", s.id).where("reminder_note", "=", s.from).executeTakeFirst();
          changed += Number(r.numUpdatedRows);
        }
        for (const v of swaps.versions) {
          const r = await tx.updateTable("secret_versions").set({ extra: v.to }).where("id", "=", v.id).where("extra", "=", v.from).executeTakeFirst();
          changed += Number(r.numUpdatedRows);
        }
        return changed;
      }),

    // Tags --------------------------------------------------------------------------------------
    listTags: (projectId: string) => db.selectFrom("tags").selectAll().where("project_id", "=", projectId).orderBy("slug").execute(),
    getTag: (projectId: string, id: string) => db.selectFrom("tags").selectAll().where("project_id", "=", projectId).where("id", "=", id).executeTakeFirst(),
    getTagBySlug: (projectId: string, slug: string) =>
      db.selectFrom("tags").selectAll().where("project_id", "=", projectId).where("slug", "=", slug).executeTakeFirst(),
    createTag: (row: TagTable) =>
      db.transaction().execute(async (tx) => {
        await tx.insertInto("tags").values(row).execute();
        await bumpGeneration(tx, row.project_id);
      }),
    updateTag: (projectId: string, id: string, patch: Partial<TagTable>) =>
      db.transaction().execute(async (tx) => {
        await tx.updateTable("tags").set(patch).where("project_id", "=", projectId).where("id", "=", id).execute();
        await bumpGeneration(tx, projectId);
      }),
    /** Secrets keep the id in `tag_ids`; readers drop ids that no longer name a tag. */
    deleteTag: (projectId: string, id: string) =>
      db.transaction().execute(async (tx) => {
        await tx.deleteFrom("tags").where("project_id", "=", projectId).where("id", "=", id).execute();
        await bumpGeneration(tx, projectId);
      }),
  };
};
export type SecretStore = ReturnType<typeof secretStore>;
