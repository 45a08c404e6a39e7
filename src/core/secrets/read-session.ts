import type { FolderStore } from "../../store/folders.js";
import type { ProjectStore } from "../../store/projects.js";
import type { EnvironmentTable, FolderTable } from "../../store/schema.js";
import type { SecretStore } from "../../store/secrets.js";
import type { PlainSecret, SecretCodec } from "./secret-codec.js";
import { tagView, type TagView } from "./secret-view.js";
import { expandReferences, type ExpansionBudget, type SecretRef } from "./references.js";

/** Chained imports are followed this many levels deep; a chain that comes back to a folder already on it stops. */
export const MAX_IMPORT_DEPTH = 10;

export interface ImportEntry { secretPath: string; environment: string; folderId: string | null; secrets: PlainSecret[] }

export type ReadSessionDeps = {
  store: Pick<SecretStore, "listByFolder" | "listTags">;
  folders: Pick<FolderStore, "getByPath" | "listImports">;
  environments: Pick<ProjectStore, "getEnvironmentBySlug" | "getEnvironment">;
  codec: Pick<SecretCodec, "decrypt">;
};

/**
 * One request's view of a project's secrets. Environments, folders and decrypted folder contents are
 * loaded once per request and reused by reference expansion and import flattening, so a list with many
 * references to the same folder costs one query for that folder, not one per reference.
 */
export const readSession = (deps: ReadSessionDeps, projectId: string) => {
  const envsBySlug = new Map<string, Promise<EnvironmentTable | undefined>>();
  const envsById = new Map<string, Promise<EnvironmentTable | undefined>>();
  const contents = new Map<string, Promise<PlainSecret[]>>();
  let tags: Promise<Map<string, TagView>> | undefined;
  const at = (envSlug: string, path: string) => `${envSlug}\0${path}`;

  const envBySlug = (slug: string) => {
    let e = envsBySlug.get(slug);
    if (!e) envsBySlug.set(slug, (e = deps.environments.getEnvironmentBySlug(projectId, slug)));
    return e;
  };
  const envById = (id: string) => {
    let e = envsById.get(id);
    if (!e) envsById.set(id, (e = deps.environments.getEnvironment(projectId, id)));
    return e;
  };

  const decryptAll = (rows: Parameters<SecretCodec["decrypt"]>[0][], envSlug: string, path: string) =>
    Promise.all(rows.map((r) => deps.codec.decrypt(r, { envSlug, secretPath: path })));

  /** The shared secrets of one folder, decrypted; `[]` when the environment or folder does not exist. */
  const folderSecrets = (envSlug: string, path: string, known?: FolderTable): Promise<PlainSecret[]> => {
    const k = at(envSlug, path);
    let c = contents.get(k);
    if (!c) {
      c = (async () => {
        const env = await envBySlug(envSlug);
        const folder = known ?? (env && (await deps.folders.getByPath(env.id, path)));
        if (!folder) return [];
        return decryptAll((await deps.store.listByFolder(folder.id)).filter((r) => r.type === "shared"), envSlug, path);
      })();
      contents.set(k, c);
    }
    return c;
  };

  /** Records secrets already loaded by the caller (e.g. a recursive listing) so references reuse them. */
  const remember = (secrets: PlainSecret[]) => {
    const groups = new Map<string, PlainSecret[]>();
    for (const s of secrets) {
      const k = at(s.envSlug, s.secretPath);
      const g = groups.get(k);
      if (g) g.push(s);
      else groups.set(k, [s]);
    }
    for (const [k, g] of groups) if (!contents.has(k)) contents.set(k, Promise.resolve(g.filter((s) => s.type === "shared")));
  };

  const tagMap = () => (tags ??= deps.store.listTags(projectId).then((ts) => new Map(ts.map((t) => [t.id, tagView(t)]))));

  const resolve = async (ref: SecretRef) => (await folderSecrets(ref.environment, ref.secretPath)).find((s) => s.key === ref.key)?.value;

  const expand = (s: PlainSecret, authorize?: (ref: SecretRef, by: SecretRef) => Promise<void> | void, budget?: ExpansionBudget) =>
    expandReferences(
      { environment: s.envSlug, secretPath: s.secretPath, key: s.key, value: s.value, skipMultilineEncoding: s.skipMultilineEncoding },
      { resolve, authorize, budget },
    );

  /** A folder's own secrets followed by those of its imports, recursively (api.md 4.5). */
  const collect = async (env: EnvironmentTable, folder: FolderTable, chain: ReadonlySet<string>, depth: number): Promise<PlainSecret[]> => {
    const own = await folderSecrets(env.slug, folder.path, folder);
    if (depth >= MAX_IMPORT_DEPTH) return own;
    const next = new Set(chain).add(folder.id);
    const nested: PlainSecret[] = [];
    for (const imp of await deps.folders.listImports(folder.id)) {
      const e = await envById(imp.import_env_id);
      const f = e && (await deps.folders.getByPath(e.id, imp.import_path));
      if (e && f && !next.has(f.id)) nested.push(...(await collect(e, f, next, depth + 1)));
    }
    return [...own, ...nested];
  };

  /** One entry per import of `folder`, in position order; a missing imported folder gives `secrets: []`. */
  const importEntries = async (folder: FolderTable): Promise<ImportEntry[]> => {
    const out: ImportEntry[] = [];
    for (const imp of await deps.folders.listImports(folder.id)) {
      const env = await envById(imp.import_env_id);
      if (!env) continue;
      const target = await deps.folders.getByPath(env.id, imp.import_path);
      const secrets = target && target.id !== folder.id ? await collect(env, target, new Set([folder.id]), 1) : [];
      out.push({ secretPath: imp.import_path, environment: env.slug, folderId: target?.id ?? null, secrets });
    }
    return out;
  };

  return { envBySlug, folderSecrets, remember, tagMap, expand, importEntries };
};
export type ReadSession = ReturnType<typeof readSession>;
