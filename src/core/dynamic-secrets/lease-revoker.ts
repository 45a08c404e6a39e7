import type { Clock } from "../clock.js";
import { DecryptionError } from "../../crypto/envelope.js";
import { KmsError } from "../errors.js";
import { isoAt } from "../time.js";
import type { DynamicSecretStore } from "../../store/dynamic-secrets.js";
import type { DynamicSecretLeaseTable, DynamicSecretTable } from "../../store/schema.js";
import { TargetUnreachableError } from "./provider.js";
import type { Sealed } from "./sealed.js";

/** Longest a provider operation may hold a lease before another server may take it over. */
export const LEASE_LOCK_MS = 120_000;
export const FAILED_DELETION = "FailedDeletion";

type Deps = { store: Pick<DynamicSecretStore, "lockLease" | "updateLease" | "deleteLease">; sealed: Pick<Sealed, "open" | "openLeaseData">; clock: Clock };

/**
 * A message safe for `statusDetails`: our typed errors are written for clients, and a decryption failure says
 * only what failed; anything else might hold data (the sweeper logs its name and message).
 */
export const safeMessage = (e: unknown) =>
  e instanceof KmsError ? e.message
  : e instanceof DecryptionError ? `the stored inputs or lease credentials do not decrypt with the project's key (${e.message})`
  : "internal error while revoking (see the server log)";

export interface RevokeOptions {
  /** Drop the record even when the provider fails. */
  force: boolean;
  /**
   * Shared by the revocations of one delete or one sweep, by dynamic-secret id: once a target could not be
   * reached, its other leases are not tried there again (each try would wait for the connect timeout) and
   * fail, or with `force` go, at once.
   */
  unreachable?: Map<string, TargetUnreachableError>;
  /** The sweeper's: leave the lease alone ("busy") unless it is still expired when it is locked. */
  onlyIfExpired?: boolean;
}

/**
 * Revokes one lease at its provider and deletes it: shared by the revoke route, dynamic-secret deletion and
 * the sweeper. A provider failure marks the lease FailedDeletion (with the reason) and is rethrown, unless
 * `force` says to drop the record anyway. "busy" means another revoke or renewal holds the lease right now.
 */
export const leaseRevokerFactory = ({ store, sealed, clock }: Deps) => {
  const revoke = async (lease: DynamicSecretLeaseTable, ds: DynamicSecretTable, opts: RevokeOptions): Promise<"revoked" | "busy"> => {
    const now = clock.now();
    if (!(await store.lockLease(lease.id, isoAt(now), isoAt(now + LEASE_LOCK_MS), opts.onlyIfExpired))) return "busy";
    try {
      const known = opts.unreachable?.get(ds.id);
      if (known) throw new TargetUnreachableError(`${known.message} (not tried again for this lease)`);
      const { provider, inputs } = await sealed.open(ds);
      await provider.revoke(inputs, { entityId: lease.external_entity_id, data: await sealed.openLeaseData(lease), expireAt: new Date(lease.expire_at) });
    } catch (e) {
      if (e instanceof TargetUnreachableError && opts.unreachable && !opts.unreachable.has(ds.id)) opts.unreachable.set(ds.id, e);
      if (!opts.force) {
        await store.updateLease(lease.id, { status: FAILED_DELETION, status_details: safeMessage(e), lock_until: null, updated_at: isoAt(clock.now()) });
        throw e;
      }
    }
    await store.deleteLease(lease.id);
    return "revoked";
  };
  return { revoke };
};
export type LeaseRevoker = ReturnType<typeof leaseRevokerFactory>;
