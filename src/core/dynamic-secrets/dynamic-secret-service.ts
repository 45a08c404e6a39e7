import type { z } from "zod";
import type { Actor } from "../actor.js";
import type { AuditService } from "../audit/audit-service.js";
import type { Clock } from "../clock.js";
import { BadRequestError, ForbiddenError, ValidationError } from "../errors.js";
import { newId, SLUG } from "../ids.js";
import { isoNow } from "../time.js";
import type { DynamicSecretStore } from "../../store/dynamic-secrets.js";
import type { DynamicSecretTable } from "../../store/schema.js";
import { usernameTemplateProblem } from "./credentials.js";
import { safeMessage, type LeaseRevoker } from "./lease-revoker.js";
import type { FolderRef, Locator } from "./locate.js";
import type { DynamicSecretProvider, TargetUnreachableError } from "./provider.js";
import type { DeleteDynamicSecretsIn } from "./scope-deletion.js";
import type { Sealed } from "./sealed.js";
import { parseTtl } from "./ttl.js";
import { dynamicSecretView, leaseView, MASK, maskInputs } from "./views.js";

export interface Metadata { key: string; value: string }

/** A lease that is still there after a revocation was asked for, and why. */
interface LeaseFailure { leaseId: string; externalEntityId: string; message: string }

export interface CreateDynamicSecretDTO extends FolderRef {
  name: string;
  provider: { type: string; inputs: unknown };
  defaultTTL: string;
  maxTTL?: string | null;
  metadata?: Metadata[];
  usernameTemplate?: string | null;
}

export interface UpdateDynamicSecretDTO {
  inputs?: Record<string, unknown>;
  defaultTTL?: string;
  maxTTL?: string | null;
  newName?: string;
  metadata?: Metadata[];
  usernameTemplate?: string | null;
}

type Deps = {
  store: Pick<DynamicSecretStore, "insert" | "getByName" | "list" | "listInScope" | "update" | "deleteUnlessOtherLeases" | "listLeases">;
  locate: Locator;
  sealed: Sealed;
  revoker: LeaseRevoker;
  audit: Pick<AuditService, "record">;
  clock: Clock;
  minTtlMs: number;
};

const checkName = (field: string, raw: string): string => {
  const name = raw.trim().toLowerCase();
  if (!SLUG.test(name) || name.length > 64) throw new ValidationError(`${field}: "${raw}" must be a slug of 1-64 characters (a-z, 0-9, dashes)`, [{ code: "custom", path: [field], message: "must be a slug of 1-64 characters (a-z, 0-9, dashes)" }]);
  return name;
};

/** Zod issues of provider inputs, with the path a client sent them under. */
const parseInputs = <I>(provider: DynamicSecretProvider<I>, inputs: unknown, at: (string | number)[]): I => {
  const r = provider.inputs.safeParse(inputs);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i: z.core.$ZodIssue) => ({ ...i, path: [...at, ...i.path] }));
  throw new ValidationError(issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), issues);
};

/** defaultTTL within bounds and not past maxTTL (null = unlimited). */
const checkTtls = (defaultTTL: string, maxTTL: string | null, minTtlMs: number) => {
  const d = parseTtl("defaultTTL", defaultTTL, minTtlMs);
  const m = maxTTL === null ? null : parseTtl("maxTTL", maxTTL, minTtlMs);
  if (m !== null && d > m) throw new BadRequestError(`defaultTTL (${defaultTTL}) cannot be longer than maxTTL (${maxTTL})`);
};

const checkUsernameTemplate = (t: string | null | undefined) => {
  if (t && t.length > 255) throw new BadRequestError("usernameTemplate: at most 255 characters");
  const problem = t ? usernameTemplateProblem(t) : undefined;
  if (problem) throw new BadRequestError(`usernameTemplate: ${problem}`);
};

export const dynamicSecretServiceFactory = ({ store, locate, sealed, revoker, audit, clock, minTtlMs }: Deps) => {
  /** Inputs as a reader may see them: secret fields masked below project admin. */
  const visibleInputs = async (actor: Actor, row: DynamicSecretTable) => {
    const inputs = await sealed.openInputs(row);
    return (await locate.isProjectAdmin(actor, row.project_id)) ? inputs : maskInputs(inputs, sealed.providerFor(row.type).secretFields);
  };

  const create = async (actor: Actor, dto: CreateDynamicSecretDTO) => {
    const at = await locate.folder(actor, dto, "admin");
    const name = checkName("name", dto.name);
    const provider = sealed.providerFor(dto.provider.type);
    const inputs = parseInputs(provider, dto.provider.inputs, ["provider", "inputs"]);
    const maxTTL = dto.maxTTL ?? null;
    checkTtls(dto.defaultTTL, maxTTL, minTtlMs);
    checkUsernameTemplate(dto.usernameTemplate);
    if (await store.getByName(at.folder.id, name)) throw new BadRequestError(`Dynamic secret with name '${name}' already exists in folder '${at.path}'`);
    // Refuse settings that cannot work before anything is stored (issue 6: nothing half-applied).
    await provider.validateConnection(inputs);
    const now = isoNow(clock);
    const id = newId();
    const row: DynamicSecretTable = {
      id, project_id: at.project.id, env_id: at.env.id, folder_id: at.folder.id, name, version: 1, type: dto.provider.type,
      default_ttl: dto.defaultTTL, max_ttl: maxTTL, encrypted_inputs: await sealed.sealInputs(at.project.id, id, inputs),
      status: null, status_details: null, username_template: dto.usernameTemplate || null,
      metadata: JSON.stringify(dto.metadata ?? []), created_at: now, updated_at: now,
    };
    await store.insert(row);
    await audit.record(actor, { action: "create-dynamic-secret", resourceType: "dynamic-secret", resourceId: id, projectId: at.project.id, metadata: { name, type: row.type, environment: at.env.slug, path: at.path } });
    return dynamicSecretView(row, inputs as Record<string, unknown>);
  };

  const list = async (actor: Actor, ref: FolderRef) => {
    const at = await locate.folder(actor, ref, "viewer");
    return (await store.list(at.folder.id)).map((r) => dynamicSecretView(r));
  };

  const get = async (actor: Actor, ref: FolderRef, name: string) => {
    const { row } = await locate.dynamicSecret(actor, ref, name, "viewer");
    return dynamicSecretView(row, await visibleInputs(actor, row));
  };

  const update = async (actor: Actor, ref: FolderRef, name: string, data: UpdateDynamicSecretDTO) => {
    const at = await locate.dynamicSecret(actor, ref, name, "admin");
    const old = at.row;
    const provider = sealed.providerFor(old.type);
    const oldInputs = await sealed.openInputs(old);
    let inputs: unknown = oldInputs;
    if (data.inputs) {
      // Partial inputs update the stored ones (as Infisical merges); a masked value sent back means "unchanged".
      const merged: Record<string, unknown> = { ...oldInputs, ...data.inputs };
      for (const f of provider.secretFields) if (merged[f] === MASK) merged[f] = oldInputs[f];
      inputs = parseInputs(provider, merged, ["data", "inputs"]);
    }
    const defaultTTL = data.defaultTTL ?? old.default_ttl;
    const maxTTL = data.maxTTL === undefined ? old.max_ttl : data.maxTTL;
    checkTtls(defaultTTL, maxTTL, minTtlMs);
    if (data.usernameTemplate !== undefined) checkUsernameTemplate(data.usernameTemplate);
    let newName = old.name;
    if (data.newName !== undefined && data.newName.trim().toLowerCase() !== old.name) {
      newName = checkName("newName", data.newName);
      if (await store.getByName(old.folder_id, newName)) throw new BadRequestError(`Dynamic secret with name '${newName}' already exists in folder '${at.path}'`);
    }
    if (data.inputs) await provider.validateConnection(inputs);
    const patch: Partial<DynamicSecretTable> = {
      name: newName, version: old.version + 1, default_ttl: defaultTTL, max_ttl: maxTTL, updated_at: isoNow(clock),
      ...(data.inputs ? { encrypted_inputs: await sealed.sealInputs(old.project_id, old.id, inputs) } : {}),
      ...(data.metadata ? { metadata: JSON.stringify(data.metadata) } : {}),
      ...(data.usernameTemplate !== undefined ? { username_template: data.usernameTemplate || null } : {}),
    };
    await store.update(old.id, patch);
    await audit.record(actor, {
      action: "update-dynamic-secret", resourceType: "dynamic-secret", resourceId: old.id, projectId: old.project_id,
      metadata: { name: newName, previousName: old.name, changed: Object.keys(data).filter((k) => data[k as keyof UpdateDynamicSecretDTO] !== undefined) },
    });
    return dynamicSecretView({ ...old, ...patch }, inputs as Record<string, unknown>);
  };

  /**
   * Revokes every lease of one dynamic secret at its provider, recording each revocation. A lease that could
   * not be revoked stays (marked FailedDeletion) and is returned, unless `isForced` dropped its record anyway.
   */
  const revokeLeasesOf = async (actor: Actor, row: DynamicSecretTable, isForced: boolean, reason: string) => {
    const failures: LeaseFailure[] = [];
    let revoked = 0;
    const leases = await store.listLeases(row.id);
    const unreachable = new Map<string, TargetUnreachableError>();
    for (const lease of leases) {
      const failed = (message: string) => failures.push({ leaseId: lease.id, externalEntityId: lease.external_entity_id, message });
      let outcome: "revoked" | "busy";
      try {
        outcome = await revoker.revoke(lease, row, { force: isForced, unreachable });
      } catch (e) {
        failed(safeMessage(e));
        continue;
      }
      if (outcome === "busy") {
        if (!isForced) failed(`lease ${lease.id} is being revoked or renewed right now, retry`);
        continue;
      }
      revoked++;
      await audit.record(actor, {
        action: "delete-dynamic-secret-lease", resourceType: "dynamic-secret-lease", resourceId: lease.id, projectId: row.project_id,
        metadata: { dynamicSecretId: row.id, externalEntityId: lease.external_entity_id, isForced, reason },
      });
    }
    return { revoked, failures, seen: leases.map((l) => l.id) };
  };

  const recordDeleted = (actor: Actor, row: DynamicSecretTable, isForced: boolean, reason?: string) =>
    audit.record(actor, { action: "delete-dynamic-secret", resourceType: "dynamic-secret", resourceId: row.id, projectId: row.project_id, metadata: { name: row.name, isForced, ...(reason ? { reason } : {}) } });

  /**
   * Revokes every lease first. Without `isForced` one failed revocation keeps the dynamic secret (and that
   * lease, marked FailedDeletion) and answers 400; with it, failures are ignored and everything goes.
   */
  const remove = async (actor: Actor, ref: FolderRef, name: string, isForced: boolean) => {
    const { row } = await locate.dynamicSecret(actor, ref, name, "admin");
    const { failures, seen } = await revokeLeasesOf(actor, row, isForced, "dynamic-secret-deleted");
    if (failures.length)
      throw new BadRequestError(`Dynamic secret '${row.name}' was not deleted: ${failures.length} lease(s) could not be revoked (${failures[0]!.message}); fix the target or delete with isForced=true`, { failures });
    // A lease created while the others were being revoked was never tried: the cascade must not forget it.
    if (!(await store.deleteUnlessOtherLeases(row.id, seen)))
      throw new BadRequestError(`Dynamic secret '${row.name}' was not deleted: a lease was created for it while it was being deleted; retry`);
    await recordDeleted(actor, row, isForced);
    return dynamicSecretView(row);
  };

  /**
   * Deletes a project, an environment or a folder subtree with its dynamic secrets: every lease is revoked
   * first, as `remove` does without `isForced`. If one cannot be revoked nothing is deleted (the leases
   * already revoked are gone for good) and the 400 names each dynamic secret and lease that is left: the
   * delete routes of projects, environments and folders have no force flag, the dynamic secret's has.
   */
  const removeAllIn: DeleteDynamicSecretsIn = async (actor, { projectId, scope, what, drop }) => {
    const rows = await store.listInScope(scope);
    if (rows.length && !(await locate.isProjectAdmin(actor, projectId)))
      throw new ForbiddenError(`${what} holds ${rows.length} dynamic secret(s); deleting them needs the project role 'admin' in project ${projectId}`);
    const reason = `${scope.kind}-deleted`;
    const failures: (LeaseFailure & { dynamicSecret: string; path: string })[] = [];
    let revoked = 0;
    for (const row of rows) {
      const r = await revokeLeasesOf(actor, row, false, reason);
      revoked += r.revoked;
      failures.push(...r.failures.map((f) => ({ dynamicSecret: row.name, path: row.folder_path, ...f })));
    }
    if (failures.length) {
      const shown = failures.slice(0, 5).map((f) => `dynamic secret '${f.dynamicSecret}' in '${f.path}', lease ${f.leaseId}: ${f.message}`);
      if (failures.length > shown.length) shown.push(`${failures.length - shown.length} more in details`);
      const names = [...new Set(failures.map((f) => `'${f.dynamicSecret}' in '${f.path}'`))].join(", ");
      throw new BadRequestError(
        `${what} was not deleted: ${failures.length} dynamic-secret lease(s) could not be revoked (${shown.join("; ")}). ` +
          `${revoked ? `The other ${revoked} lease(s) in it were revoked and are gone; nothing else was deleted. ` : "Nothing was deleted. "}` +
          `Fix the target and retry, or delete the dynamic secret(s) ${names} first, with isForced=true if their leases cannot be revoked (their users then stay at the target).`,
        { failures },
      );
    }
    const went = await drop();
    if (!went) throw new BadRequestError(`${what} was not deleted: a dynamic-secret lease was created in it while it was being deleted; retry`);
    // What the cascade took, including a dynamic secret created after `rows` was read (it had no lease yet).
    for (const row of went) await recordDeleted(actor, row, false, reason);
  };

  const listLeases = async (actor: Actor, ref: FolderRef, name: string) => {
    const { row } = await locate.dynamicSecret(actor, ref, name, "member");
    return (await store.listLeases(row.id)).map(leaseView);
  };

  return { create, list, get, update, remove, removeAllIn, listLeases };
};
export type DynamicSecretService = ReturnType<typeof dynamicSecretServiceFactory>;
