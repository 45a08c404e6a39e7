import type { Actor } from "../actor.js";
import { BadRequestError, ForbiddenError, NotFoundError } from "../errors.js";
import type { ProjectAccess } from "../projects/access.js";
import type { SecretStore } from "../../store/secrets.js";
import type { PlainSecret, SecretCodec } from "./secret-codec.js";
import { secretView, type TagView } from "./secret-view.js";
import { matchesMetadata, matchesTags, parseMetadataFilter, parseTagSlugs, type MetadataFilter } from "./filters.js";
import { readSession, type ReadSession, type ReadSessionDeps } from "./read-session.js";
import type { Scope, ScopeRequest, ScopeResolver } from "./scope.js";
import type { FolderTable } from "../../store/schema.js";
import { expansionBudget, type ExpansionBudget, type SecretRef } from "./references.js";
import { fromVersionRow } from "./versions.js";
import { listCache } from "./list-cache.js";

export interface ReadOptions {
  viewSecretValue: boolean;
  expandSecretReferences: boolean;
  includeImports: boolean;
}
export interface ListSecretsDTO extends ScopeRequest, ReadOptions {
  recursive: boolean;
  /** Comma-separated tag slugs, as sent. */
  tagSlugs?: string;
  /** `key=k,value=v|...`, as sent. */
  metadataFilter?: string;
}
export interface GetSecretDTO extends ScopeRequest, ReadOptions {
  secretName: string;
  type: string;
  version?: number;
}

type Deps = ReadSessionDeps & {
  scopes: Pick<ScopeResolver, "resolve">;
  access: Pick<ProjectAccess, "requireProject">;
  store: Pick<SecretStore, "listByFolder" | "listUnder" | "listTags" | "getByKey" | "getById" | "getVersion" | "stamp">;
  codec: Pick<SecretCodec, "decrypt">;
};

/** Upper bound on secret objects held by the list cache (about 0.6 KB each as JSON). */
const LIST_CACHE_SECRETS = 50_000;

/** Identities cannot own personal secrets (Infisical ties them to a user). */
export const refusePersonal = (type: string) => {
  if (type === "personal") throw new BadRequestError("type: personal secrets belong to users; machine identities can only use shared secrets");
};

export const secretReaderFactory = (deps: Deps) => {
  const { scopes, access, store, codec } = deps;

  /**
   * Every referenced secret must be readable by the caller (api.md 4.4). References cannot leave the
   * project, and our roles are per project, so this is the project's viewer role, checked once per request.
   */
  const referenceGuard = (actor: Actor, projectId: string) => {
    let allowed: Promise<unknown> | undefined;
    return async (ref: SecretRef, by: SecretRef) => {
      try {
        await (allowed ??= access.requireProject(actor, projectId, "viewer"));
      } catch (e) {
        if (!(e instanceof ForbiddenError || e instanceof NotFoundError)) throw e;
        throw new ForbiddenError(
          `You do not have permission to read secret '${ref.key}' in environment '${ref.environment}' at path '${ref.secretPath}', ` +
            `which is referenced by secret '${by.key}' in environment '${by.environment}' at path '${by.secretPath}'`,
        );
      }
    };
  };

  /**
   * One request's values share one expansion budget (references.ts), spent in the order of the answer, so
   * which values a budget leaves unexpanded is the same on every read (the ETag stays put).
   */
  const render = async (
    actor: Actor, session: ReadSession, secrets: PlainSecret[], tags: ReadonlyMap<string, TagView>, o: ReadOptions, timestamps: boolean,
    budget: ExpansionBudget,
  ) => {
    const expand = o.expandSecretReferences && o.viewSecretValue;
    if (!expand) return secrets.map((s) => secretView(s, tags, { hidden: !o.viewSecretValue, timestamps }));
    const guard = referenceGuard(actor, secrets[0]?.projectId ?? "");
    const out = [];
    for (const s of secrets) out.push(secretView(s, tags, { hidden: false, timestamps, value: await session.expand(s, guard, budget) }));
    return out;
  };

  type ListResult = Awaited<ReturnType<typeof buildList>>;
  const cache = listCache<ListResult>(LIST_CACHE_SECRETS);
  const inflight = new Map<string, Promise<ListResult>>();

  const list = async (actor: Actor, dto: ListSecretsDTO) => {
    const tagSlugs = parseTagSlugs(dto.tagSlugs);
    const metadataFilter = parseMetadataFilter(dto.metadataFilter);
    // The stamp (everything a list answer depends on besides the request, see list-cache.ts) is read
    // alongside the permission check when the project id is known; it is used only once the check passed.
    const early = dto.projectId ? store.stamp(dto.projectId) : undefined;
    early?.catch(() => undefined);
    const scope = await scopes.resolve(actor, dto, "viewer");
    // An unknown folder path is an empty folder (Infisical answers 200 with empty arrays).
    if (!scope.folder) return { secrets: [], ...(dto.includeImports ? { imports: [] } : {}) };
    const key = JSON.stringify([
      scope.project.id, scope.env.id, scope.folder.id, scope.path, dto.recursive, dto.includeImports, dto.expandSecretReferences,
      dto.viewSecretValue, tagSlugs ?? null, metadataFilter ?? null,
    ]);
    // The stamp is read before the answer is built: a write landing meanwhile leaves an entry that the next
    // read already considers stale.
    const stamp = await (early ?? store.stamp(scope.project.id));
    const hit = cache.get(key, stamp);
    if (hit) return hit;
    // Right after a write every client polling this folder misses at once; they share one build instead
    // of each reading and decrypting the same rows (the answer does not depend on who asks).
    const flight = `${key}\0${stamp}`;
    let building = inflight.get(flight);
    if (!building) {
      building = buildList(actor, dto, scope as Scope & { folder: FolderTable }, tagSlugs, metadataFilter);
      inflight.set(flight, building);
      building.then(
        (r) => cache.set(key, stamp, r, r.secrets.length + (r.imports?.reduce((n, i) => n + i.secrets.length, 0) ?? 0) + 1),
        () => undefined,
      ).finally(() => inflight.delete(flight));
    }
    return building;
  };

  const buildList = async (actor: Actor, dto: ListSecretsDTO, scope: Scope & { folder: FolderTable }, tagSlugs?: string[], metadataFilter?: MetadataFilter[]) => {
    const { project, env, path, folder } = scope;
    const session = readSession(deps, project.id);
    let own: PlainSecret[];
    if (dto.recursive) {
      const rows = (await store.listUnder(env.id, path)).filter((r) => r.type === "shared");
      own = await Promise.all(rows.map((r) => codec.decrypt(r, { envSlug: env.slug, secretPath: r.secret_path })));
      session.remember(own);
    } else {
      own = await session.folderSecrets(env.slug, path, folder);
    }
    const tags = await session.tagMap();
    if (tagSlugs) own = own.filter((s) => matchesTags(s, tagSlugs, tags));
    if (metadataFilter) own = own.filter((s) => matchesMetadata(s, metadataFilter));
    const budget = expansionBudget();
    const secrets = await render(actor, session, own, tags, dto, true, budget);
    if (!dto.includeImports) return { secrets };
    const imports = [];
    for (const e of await session.importEntries(folder)) {
      imports.push({
        secretPath: e.secretPath, environment: e.environment, folderId: e.folderId,
        secrets: await render(actor, session, e.secrets, tags, dto, false, budget),
      });
    }
    return { secrets, imports };
  };

  /** By name: the folder's own secret first, then (with imports) the first import that has the key. */
  const get = async (actor: Actor, dto: GetSecretDTO) => {
    refusePersonal(dto.type);
    const { project, env, path, folder } = await scopes.resolve(actor, dto, "viewer");
    const notFound = () => new NotFoundError(`Secret with name '${dto.secretName}' not found`);
    if (!folder) throw notFound();
    const session = readSession(deps, project.id);
    const row = await store.getByKey(folder.id, dto.secretName, "shared");
    let found: PlainSecret | undefined = row && (await codec.decrypt(row, { envSlug: env.slug, secretPath: path }));
    if (!found && dto.includeImports)
      for (const entry of await session.importEntries(folder)) if ((found = entry.secrets.find((s) => s.key === dto.secretName))) break;
    if (!found) throw notFound();
    if (dto.version !== undefined && dto.version !== found.version) {
      const current = await store.getById(found.id);
      const v = current && (await store.getVersion(found.id, dto.version));
      if (!current || !v) throw new NotFoundError(`Version ${dto.version} of secret '${dto.secretName}' not found`);
      found = await codec.decrypt(fromVersionRow(current, v), { envSlug: found.envSlug, secretPath: found.secretPath });
    }
    const [view] = await render(actor, session, [found], await session.tagMap(), dto, true, expansionBudget());
    return view!;
  };

  /** By id (no query needed): the caller needs the viewer role on the secret's project. */
  const getById = async (actor: Actor, secretId: string) => {
    const row = await store.getById(secretId);
    if (!row) throw new NotFoundError(`Secret with ID ${secretId} not found`);
    try {
      await access.requireProject(actor, row.project_id, "viewer");
    } catch (e) {
      // Another organization's secret is reported exactly like a missing one.
      throw e instanceof NotFoundError ? new NotFoundError(`Secret with ID ${secretId} not found`) : e;
    }
    const session = readSession(deps, row.project_id);
    const plain = await codec.decrypt(row, { envSlug: row.env_slug, secretPath: row.secret_path });
    return secretView(plain, await session.tagMap(), { hidden: false });
  };

  return { list, get, getById };
};
export type SecretReader = ReturnType<typeof secretReaderFactory>;
