import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import type { SecretTable } from "../../store/schema.js";
import { isForeignKeyViolation, isUniqueViolation, type SecretBatch, type SecretStore } from "../../store/secrets.js";
import type { SecretCodec } from "./secret-codec.js";
import type { ScopeRequest, ScopeResolver } from "./scope.js";
import { normalizePath } from "./paths.js";
import { isValidSecretName, SECRET_NAME_MESSAGE } from "./value.js";
import type { SecretChangeFeed } from "./change-feed.js";
import { folderNotFound, secretDraftsFactory, type Announcement, type CreateFields, type ProjectTags, type UpdateFields, type WriteScope } from "./secret-drafts.js";

/**
 * At most this many secrets per batch request. Infisical documents no bound; every secret of a batch is
 * sealed, versioned and audited in one transaction, and the request body is limited to 1 MiB anyway.
 */
export const BATCH_LIMIT = 1000;

export type BatchUpdateMode = "failOnNotFound" | "upsert";
export interface BatchCreateItem extends Omit<CreateFields, "secretName"> { secretKey: string }
export interface BatchUpdateItem extends UpdateFields { secretKey: string; secretPath?: string }
export interface BatchDeleteItem { secretKey: string; type?: string }
export interface BatchDTO<T> extends ScopeRequest { secrets: T[] }

type Deps = {
  scopes: Pick<ScopeResolver, "resolve">;
  store: Pick<SecretStore, "getManyByKeys" | "getById" | "listTags" | "applyBatch">;
  codec: Pick<SecretCodec, "seal" | "decrypt" | "openMetadata">;
  audit: Pick<AuditService, "record" | "entry">;
  clock: Clock;
  changes?: Pick<SecretChangeFeed, "publish">;
};

/** Audit metadata that tells a batch's events from single writes. */
const BATCH = { batch: true };

/** Keys listed once each, in the order first met. */
const unique = (keys: string[]) => [...new Set(keys)];
const duplicates = (keys: string[]) => unique(keys.filter((k, i) => keys.indexOf(k) !== i));
const list = (keys: string[]) => keys.join(", ");

/**
 * The batch routes (POST, PATCH, DELETE /api/v3/secrets/batch/raw and /api/v4/secrets/batch): many secrets
 * of one environment in one request, all or nothing. Every check runs before anything is written (names,
 * duplicates, permission, folders, which keys exist, tags); the rows and their audit events (one per
 * secret, as single writes record) are written by one store transaction, and only then are the changes
 * announced, one per secret (shared with single writes: secret-drafts.ts). Answers keep request order.
 */
export const secretBatchFactory = (deps: Deps) => {
  const { store, clock, audit, changes } = deps;
  const drafts = secretDraftsFactory(deps);

  const checkItems = (items: unknown[]) => {
    if (items.length === 0) throw new BadRequestError("secrets: at least one secret is required");
    if (items.length > BATCH_LIMIT) throw new BadRequestError(`secrets: at most ${BATCH_LIMIT} secrets per request, got ${items.length}`);
  };
  const checkNames = (field: string, names: string[]) => {
    const bad = unique(names.filter((n) => !isValidSecretName(n)));
    if (bad.length) throw new BadRequestError(`secrets.${field}: ${SECRET_NAME_MESSAGE}: ${list(bad.map((n) => JSON.stringify(n)))}`);
  };
  const checkDuplicates = (keys: string[], where = "") => {
    const dup = duplicates(keys);
    if (dup.length) throw new BadRequestError(`secrets: each secretKey may appear once per request${where}; repeated: ${list(dup)}`);
  };

  /**
   * Writes the batch with one audit event per secret in the same transaction; a row that changed or went
   * meanwhile, or a concurrent create, fails it whole. Once committed, each change is announced.
   */
  const commit = async (actor: Actor, batch: Omit<SecretBatch, "audit">, told: Announcement[], scopes: WriteScope[], renamedOrCreated: string[]) => {
    let r: Awaited<ReturnType<typeof store.applyBatch>>;
    try {
      r = await store.applyBatch({ ...batch, audit: told.map((a) => audit.entry(actor, a.audit)) });
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new BadRequestError(`Secret already exists: one of ${list(renamedOrCreated)} was created by another request at the same time; nothing was written`);
      }
      if (isForeignKeyViolation(e)) throw folderNotFound(scopes[0]!);
      throw e;
    }
    if (r.ok) {
      for (const a of told) changes?.publish(a.change);
      return;
    }
    const gone = !(await store.getById(r.lost));
    const row = [...batch.updates.map((u) => u.current), ...batch.deletes].find((x) => x.id === r.lost);
    if (gone) throw new NotFoundError(`Secret with name '${row?.key}' not found (deleted by another request); nothing was written`);
    throw new BadRequestError(`Secret '${row?.key}' was changed by another request at the same time; nothing was written, read it again and retry`);
  };

  const createMany = async (actor: Actor, dto: BatchDTO<BatchCreateItem>) => {
    checkItems(dto.secrets);
    const keys = dto.secrets.map((s) => s.secretKey);
    checkNames("secretKey", keys);
    checkDuplicates(keys);
    const scope = await drafts.writeScope(actor, dto);
    const existing = await store.getManyByKeys(scope.folder.id, keys);
    if (existing.length) throw new BadRequestError(`Secret already exists: ${list(keys.filter((k) => existing.some((e) => e.key === k)))}`);
    const tags = await drafts.projectTags(scope.project.id, unique(dto.secrets.flatMap((s) => s.tagIds ?? [])));
    const creates = await Promise.all(dto.secrets.map(({ secretKey, ...f }) => drafts.draftCreate(scope, { ...f, secretName: secretKey })));
    const told = creates.map((c) => drafts.created(scope, c.row, BATCH));
    await commit(actor, { projectId: scope.project.id, now: isoNow(clock), creates, updates: [], deletes: [] }, told, [scope], keys);
    return Promise.all(creates.map((c) => drafts.respond(c.row, scope, tags)));
  };

  const updateMany = async (actor: Actor, dto: BatchDTO<BatchUpdateItem> & { mode?: BatchUpdateMode }) => {
    checkItems(dto.secrets);
    const upsert = dto.mode === "upsert";
    checkNames("secretKey", dto.secrets.map((s) => s.secretKey));
    checkNames("newSecretName", dto.secrets.flatMap((s) => (s.newSecretName === undefined ? [] : [s.newSecretName])));
    const defaultPath = normalizePath(dto.path, dto.pathField ?? "secretPath");
    const paths = dto.secrets.map((s, i) => (s.secretPath === undefined ? defaultPath : normalizePath(s.secretPath, `secrets.${i}.secretPath`)));
    const byPath = new Map<string, number[]>();
    paths.forEach((p, i) => byPath.set(p, [...(byPath.get(p) ?? []), i]));
    for (const [path, idx] of byPath) checkDuplicates(idx.map((i) => dto.secrets[i]!.secretKey), ` and folder (${path})`);

    // Permission and folders first (a refused caller learns nothing about keys), then which keys exist.
    const scopes = new Map<string, WriteScope>();
    for (const path of byPath.keys()) scopes.set(path, await drafts.writeScope(actor, { ...dto, path, pathField: "secretPath" }));
    const rows = new Map<string, Map<string, SecretTable>>();
    const missing: string[] = [];
    for (const [path, idx] of byPath) {
      const found = await store.getManyByKeys(scopes.get(path)!.folder.id, idx.map((i) => dto.secrets[i]!.secretKey));
      rows.set(path, new Map(found.map((r) => [r.key, r])));
      const absent = idx.map((i) => dto.secrets[i]!.secretKey).filter((k) => !rows.get(path)!.has(k));
      if (absent.length) missing.push(`${list(absent)} in path ${path}`);
    }
    if (missing.length && !upsert) throw new NotFoundError(`Secret does not exist: ${missing.join("; ")}`);

    // Names a batch gives to a folder (upserted keys, new names) must be free there and given once.
    const taken: string[] = [];
    for (const [path, idx] of byPath) {
      const inFolder = rows.get(path)!;
      const created = idx.map((i) => dto.secrets[i]!).filter((s) => !inFolder.has(s.secretKey)).map((s) => s.secretKey);
      const renamed = idx.map((i) => dto.secrets[i]!).filter((s) => inFolder.has(s.secretKey) && s.newSecretName !== undefined && s.newSecretName !== s.secretKey)
        .map((s) => s.newSecretName!);
      const clash = unique([...duplicates([...created, ...renamed]), ...renamed.filter((n) => created.includes(n))]);
      if (clash.length) throw new BadRequestError(`secrets: more than one secret of this request would be named ${list(clash)} in path ${path}`);
      const occupied = renamed.length ? await store.getManyByKeys(scopes.get(path)!.folder.id, renamed) : [];
      if (occupied.length) throw new BadRequestError(`Secret with new name already exists: ${list(occupied.map((r) => r.key))} in path ${path}`);
      taken.push(...created, ...renamed);
    }
    const first = scopes.values().next().value!;
    const tags = await drafts.projectTags(first.project.id, unique(dto.secrets.flatMap((s) => s.tagIds ?? [])));

    // Upserted secrets take the item's key (not newSecretName) and an empty value when none is given, as in Infisical.
    const plan = await Promise.all(dto.secrets.map(async ({ secretKey, secretPath: _p, ...f }, i) => {
      const scope = scopes.get(paths[i]!)!;
      const row = rows.get(paths[i]!)!.get(secretKey);
      if (row) return { scope, old: row, update: await drafts.draftUpdate(row, f) };
      const { newSecretName: _n, ...rest } = f;
      return { scope, create: await drafts.draftCreate(scope, { ...rest, secretName: secretKey, secretValue: f.secretValue ?? "" }) };
    }));
    const told = plan.map((p) => (p.update ? drafts.updated(p.scope, p.old, p.update, BATCH) : drafts.created(p.scope, p.create!.row, BATCH)));
    await commit(actor, {
      projectId: first.project.id, now: isoNow(clock),
      creates: plan.flatMap((p) => (p.create ? [p.create] : [])),
      updates: plan.flatMap((p) => (p.update ? [{ current: p.old, patch: p.update.patch, version: p.update.version }] : [])),
      deletes: [],
    }, told, [...scopes.values()], taken);
    return Promise.all(plan.map((p) => drafts.respond(p.update ? p.update.next : p.create!.row, p.scope, tags)));
  };

  const removeMany = async (actor: Actor, dto: BatchDTO<BatchDeleteItem>) => {
    checkItems(dto.secrets);
    const keys = dto.secrets.map((s) => s.secretKey);
    checkDuplicates(keys);
    const type = dto.secrets.find((s) => s.type === "personal")?.type ?? "shared";
    const scope = await drafts.writeScope(actor, dto, type);
    const found = new Map((await store.getManyByKeys(scope.folder.id, keys)).map((r) => [r.key, r]));
    const absent = keys.filter((k) => !found.has(k));
    if (absent.length) throw new NotFoundError(`Secret does not exist: ${list(absent)} in path ${scope.path}`);
    const doomed = keys.map((k) => found.get(k)!);
    const tags = await drafts.projectTags(scope.project.id, []);
    const views = await Promise.all(doomed.map((r) => drafts.respond(r, scope, tags)));
    const told = doomed.map((r) => drafts.deleted(scope, r, BATCH));
    await commit(actor, { projectId: scope.project.id, now: isoNow(clock), creates: [], updates: [], deletes: doomed }, told, [scope], []);
    return views;
  };

  return { createMany, updateMany, removeMany };
};
export type SecretBatchWriter = ReturnType<typeof secretBatchFactory>;
