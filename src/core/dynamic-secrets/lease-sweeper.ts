import type { AuditService } from "../audit/audit-service.js";
import type { Clock } from "../clock.js";
import { KmsError } from "../errors.js";
import { isoNow } from "../time.js";
import type { DynamicSecretStore } from "../../store/dynamic-secrets.js";
import type { DynamicSecretLeaseTable } from "../../store/schema.js";
import { safeMessage, type LeaseRevoker } from "./lease-revoker.js";
import type { TargetUnreachableError } from "./provider.js";

/** The slice of a pino logger the sweeper writes to. */
export interface SweepLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

type Deps = {
  store: Pick<DynamicSecretStore, "listExpiredLeases" | "get">;
  revoker: LeaseRevoker;
  audit: Pick<AuditService, "recordAs">;
  clock: Clock;
  intervalMs: number;
};

const BATCH = 50;

/**
 * Revokes every expired lease, whether or not a client ever comes back for it (Infisical runs a queue job
 * per lease; a periodic sweep needs no queue and also catches leases that expired while the server was
 * down). A lease outlives its TTL by at most one interval plus the sweep itself. A provider failure leaves
 * the lease marked FailedDeletion and it is tried again on the next sweep.
 */
export const leaseSweeperFactory = ({ store, revoker, audit, clock, intervalMs }: Deps) => {
  const sweepOnce = async (log?: SweepLog): Promise<{ revoked: number; failed: number }> => {
    let revoked = 0;
    let failed = 0;
    // A lease that failed stays expired and would be listed again: try each one once per sweep.
    const seen = new Set<string>();
    const unreachable = new Map<string, TargetUnreachableError>();
    const attempt = async (lease: DynamicSecretLeaseTable) => {
      seen.add(lease.id);
      const ds = await store.get(lease.dynamic_secret_id);
      if (!ds) return;
      try {
        if ((await revoker.revoke(lease, ds, { force: false, unreachable, onlyIfExpired: true })) !== "revoked") return;
        revoked++;
        await audit.recordAs({ type: "system", id: "lease-sweeper" }, undefined, {
          action: "delete-dynamic-secret-lease", resourceType: "dynamic-secret-lease", resourceId: lease.id, projectId: lease.project_id,
          metadata: { dynamicSecretId: ds.id, externalEntityId: lease.external_entity_id, reason: "expired", expireAt: lease.expire_at },
        });
      } catch (e) {
        failed++;
        // statusDetails points here for an internal failure, so its name and message are logged (as the error
        // handler logs them for a route).
        const err = e instanceof KmsError ? {} : { err: { name: (e as Error)?.name, message: (e as Error)?.message } };
        log?.warn({ leaseId: lease.id, dynamicSecretId: ds.id, reason: safeMessage(e), ...err }, "could not revoke an expired lease; retrying on the next sweep");
      }
    };
    const batchOf = async (failedBefore: boolean) =>
      (await store.listExpiredLeases(isoNow(clock), BATCH + seen.size, failedBefore)).filter((l) => !seen.has(l.id));
    const fresh = async () => {
      for (let batch = await batchOf(false); batch.length; batch = await batchOf(false)) for (const lease of batch) await attempt(lease);
    };
    // Leases whose revocation failed before go last, and the others are looked for again before each of
    // them: a target that is slow to fail (gone, firewalled, a hanging statement) costs every attempt up to
    // the connect or query timeout, and must not hold back the revocation of every other expired lease.
    await fresh();
    for (let batch = await batchOf(true); batch.length; batch = await batchOf(true)) {
      for (const lease of batch) {
        await fresh();
        await attempt(lease);
      }
    }
    if (revoked) log?.info({ revoked, failed }, "revoked expired dynamic-secret leases");
    return { revoked, failed };
  };

  /** Sweeps now and then every interval until stopped; stop() waits for a sweep in progress to finish. */
  const start = (log?: SweepLog) => {
    const ac = new AbortController();
    const loop = (async () => {
      while (!ac.signal.aborted) {
        try {
          await sweepOnce(log);
        } catch (e) {
          log?.error({ err: { name: (e as Error).name, message: (e as Error).message } }, "lease sweep failed");
        }
        await clock.sleep(intervalMs, ac.signal).catch(() => {});
      }
    })();
    return { stop: async () => { ac.abort(); await loop; } };
  };

  return { sweepOnce, start };
};
export type LeaseSweeper = ReturnType<typeof leaseSweeperFactory>;
