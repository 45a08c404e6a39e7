/**
 * Finished list answers, reused while nothing they depend on has changed.
 *
 * Listing 1,000 secrets means reading 1,000 rows and building 1,000 objects; measured, that is most of a
 * list request's cost. An entry is valid for one `stamp`: the project's secret generation (bumped in the
 * same transaction as every secret, folder, import and tag write, so it also works when several servers
 * share a PostgreSQL database) joined with the project's environments (a renamed or deleted environment
 * changes what references and imports resolve to). A stale entry is never served: a different stamp is a miss.
 *
 * Entries hold plaintext values, like the decryption cache, for the same reason that is acceptable: the
 * project data keys are in this process's memory anyway. The permission check happens before any lookup.
 */
export interface ListCache<T> {
  get(key: string, stamp: string): T | undefined;
  set(key: string, stamp: string, value: T, weight: number): void;
}

/** `maxWeight` bounds the total weight (e.g. the number of secret objects held) across entries. */
export const listCache = <T>(maxWeight: number): ListCache<T> => {
  const entries = new Map<string, { stamp: string; value: T; weight: number }>();
  let total = 0;
  const drop = (key: string) => {
    const e = entries.get(key);
    if (!e) return;
    total -= e.weight;
    entries.delete(key);
  };
  return {
    get: (key, stamp) => {
      const e = entries.get(key);
      if (!e) return undefined;
      if (e.stamp !== stamp) {
        drop(key);
        return undefined;
      }
      // Map order is insertion order: re-inserting makes this the most recently used entry.
      entries.delete(key);
      entries.set(key, e);
      return e.value;
    },
    set: (key, stamp, value, weight) => {
      if (weight > maxWeight) return;
      drop(key);
      entries.set(key, { stamp, value, weight });
      total += weight;
      for (const oldest of entries.keys()) {
        if (total <= maxWeight) break;
        drop(oldest);
      }
    },
  };
};
