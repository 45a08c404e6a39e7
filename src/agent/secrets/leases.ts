import type { KmsClient } from "../../client/kms-client.js";
import type { CreateLeaseResponse } from "../../client/types.js";
import type { Clock } from "../../core/clock.js";
import { parseDuration } from "../../config/duration.js";
import type { CachedLease, LeaseCache } from "../cache/lease-cache.js";
import type { Logger } from "../log.js";
import { backoffDelay, withRetry } from "../retry.js";
import type { RetryPolicy } from "../retry.js";
import type { TokenManager } from "../token.js";

/**
 * Dynamic-secret leases for `dynamic_secret` / `dynamicSecret`. Identical calls (same project, folder,
 * name, TTL and principals), in one template or several, share one lease. A lease is renewed at about
 * 2/3 of its lifetime while its max TTL allows (upstream never renews, only replaces, DESIGN.md); when
 * it cannot be, a new lease is made before the old one expires, the templates that use it render (so
 * their command runs with the new credentials in place), and only then is the old lease revoked.
 * With a persistent cache, leases survive restarts; a cached lease is reused when the server still
 * knows it and it is not about to expire.
 */

export interface LeaseRequest {
  projectSlug: string;
  environment: string;
  secretPath: string;
  name: string;
  /** As written in the template ("" = the dynamic secret's default TTL). */
  ttl: string;
  /** Comma-separated (SSH principals), "" for none. */
  principals: string;
}

export const leaseKey = (r: LeaseRequest): string => [r.projectSlug, r.environment, r.secretPath, r.name.toLowerCase(), r.ttl, r.principals].join("\0");

export const RENEW_AT_FRACTION = 2 / 3;
/** A cached lease expiring sooner than this is replaced rather than reused (upstream: 30 s). */
export const REUSE_MARGIN_MS = 30_000;

interface Held extends CachedLease {
  /** When the lease was last created or renewed: renewal is due 2/3 of the way to expireAt from here. */
  since: number;
  owners: Set<string>;
  /** Failed maintenance attempts in a row (backoff). */
  failures: number;
  retryAt?: number;
}

export interface LeaseManagerDeps {
  client: Pick<KmsClient, "createLease" | "getLease" | "renewLease" | "revokeLease">;
  tokens: Pick<TokenManager, "withToken">;
  retry: RetryPolicy;
  clock: Clock;
  logger: Logger;
  cache?: LeaseCache;
  random?: () => number;
  /** Makes the owners (templates) render with the new credentials; resolves when they have. */
  onRotated?: (owners: string[]) => Promise<void>;
}

const isStatus = (err: unknown, status: number) => (err as { status?: number })?.status === status;
const isRetryable = (err: unknown) => (err as { retryable?: boolean })?.retryable === true;
const ttlMs = (s: string | null | undefined): number | undefined => {
  if (!s) return undefined;
  try {
    const ms = /^\d+$/.test(s) ? Number(s) : parseDuration(s);
    return ms > 0 ? ms : undefined;
  } catch {
    return undefined;
  }
};

export const createLeaseManager = (deps: LeaseManagerDeps) => {
  const { clock, logger } = deps;
  const held = new Map<string, Held>();
  const inflight = new Map<string, Promise<Held>>();
  let cachedP: Promise<Map<string, CachedLease>> | undefined;
  let cached = new Map<string, CachedLease>();
  let wake: (() => void) | undefined;

  const call = <T>(what: string, fn: (token: string) => Promise<T>, signal?: AbortSignal) =>
    withRetry(() => deps.tokens.withToken(fn, signal), deps.retry, {
      clock,
      signal,
      random: deps.random,
      onRetry: (i) => logger.warn(`${what} failed, retrying`, { retry: i.retry, delayMs: Math.round(i.delayMs), error: (i.error as Error)?.message }),
    });

  const folder = (r: Pick<LeaseRequest, "projectSlug" | "environment" | "secretPath">) => ({ projectSlug: r.projectSlug, environmentSlug: r.environment, path: r.secretPath });
  const label = (h: CachedLease) => ({ lease: h.leaseId, name: h.name, folder: `${h.projectSlug}/${h.environment}${h.secretPath}` });

  // Cached leases not claimed yet stay in the file: their templates may simply not have rendered yet.
  const persist = () =>
    deps.cache?.write([...cached.values(), ...held.values()]).catch((e: Error) => logger.warn("cannot write the lease cache", { error: e.message }));

  const fromCreate = (r: LeaseRequest, key: string, res: CreateLeaseResponse, owners: Set<string>): Held => {
    const now = clock.now();
    const createdAt = res.lease.createdAt ? Date.parse(res.lease.createdAt) : now;
    const max = ttlMs(res.dynamicSecret?.maxTTL);
    // Only the request's fields: a rotation passes the old lease, whose retryAt must not carry over.
    const { projectSlug, environment, secretPath, name, ttl, principals } = r;
    return {
      projectSlug, environment, secretPath, name, ttl, principals, key, leaseId: res.lease.id, data: res.data, expireAt: Date.parse(res.lease.expireAt), createdAt,
      ...(max !== undefined && { maxExpireAt: createdAt + max }),
      since: now, owners, failures: 0,
    };
  };

  const create = async (r: LeaseRequest, key: string, owners: Set<string>, signal?: AbortSignal): Promise<Held> => {
    const config = r.principals ? { principals: r.principals.split(",").map((p) => p.trim()).filter(Boolean) } : undefined;
    const res = await call(
      "lease creation",
      (token) => deps.client.createLease({ dynamicSecretName: r.name, ...folder(r), ...(r.ttl && { ttl: r.ttl }), ...(config && { config }) }, { token, signal }),
      signal,
    );
    const h = fromCreate(r, key, res, owners);
    logger.info("dynamic secret lease created", { ...label(h), expireAt: new Date(h.expireAt).toISOString() });
    return h;
  };

  const revoke = async (h: CachedLease, why: string): Promise<boolean> => {
    try {
      await call("lease revocation", (token) => deps.client.revokeLease(h.leaseId, folder(h), { token }));
      logger.info(`dynamic secret lease revoked (${why})`, label(h));
      return true;
    } catch (err) {
      if (isStatus(err, 404)) return true;
      logger.warn(`cannot revoke dynamic secret lease (${why})`, { ...label(h), error: (err as Error).message });
      return false;
    }
  };

  /** A cached lease is reused when the server still has it and it is not about to expire. */
  const fromCache = async (c: CachedLease, owners: Set<string>, signal?: AbortSignal): Promise<Held | undefined> => {
    let expireAt: number;
    try {
      const res = await call("lease check", (token) => deps.client.getLease(c.leaseId, folder(c), { token, signal }), signal);
      expireAt = Date.parse(res.lease.expireAt);
    } catch (err) {
      if (isRetryable(err) || signal?.aborted) throw err;
      // As upstream: 404 means the server forgot it; any other refusal, revoke it to be safe.
      if (!isStatus(err, 404)) await revoke(c, "the server refused to confirm it");
      logger.info("cached lease not reused", { ...label(c), reason: (err as Error).message });
      return undefined;
    }
    if (expireAt - clock.now() < REUSE_MARGIN_MS) {
      await revoke(c, "about to expire");
      return undefined;
    }
    logger.info("reusing cached dynamic secret lease", { ...label(c), expireAt: new Date(expireAt).toISOString() });
    return { ...c, expireAt, since: clock.now(), owners, failures: 0 };
  };

  /**
   * Makes the lease for `key` once, however many ask at the same time (renders, a rotation): a second
   * lease made in parallel would be left to expire unused, a database user nobody revokes.
   */
  const track = (key: string, make: () => Promise<Held>): Promise<Held> => {
    const p = (async () => {
      const got = await make();
      held.set(key, got);
      await persist();
      wake?.();
      return got;
    })().finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };

  const valid = (h: Held) => h.expireAt - clock.now() > Math.min(REUSE_MARGIN_MS, (h.expireAt - h.since) / 10);

  /** The lease's credentials for `owner` (a template), creating or reusing a lease as needed. */
  const acquire = async (r: LeaseRequest, owner: string, signal?: AbortSignal): Promise<Record<string, unknown>> => {
    const key = leaseKey(r);
    const h = held.get(key);
    if (h && valid(h)) {
      h.owners.add(owner);
      return { ...h.data };
    }
    const got = await (inflight.get(key) ??
      track(key, async () => {
        const owners = new Set(h?.owners ?? []);
        cachedP ??= (deps.cache ? deps.cache.read() : Promise.resolve(new Map<string, CachedLease>())).then((m) => (cached = m));
        await cachedP;
        const c = cached.get(key);
        cached.delete(key);
        const got = (c && (await fromCache(c, owners, signal))) || (await create(r, key, owners, signal));
        if (h && h.leaseId !== got.leaseId) void revoke(h, "replaced after expiry");
        return got;
      }));
    got.owners.add(owner);
    return { ...got.data };
  };

  const renewable = (h: Held, now: number) => {
    const life = h.expireAt - h.since;
    const want = ttlMs(h.ttl) ?? life;
    return h.maxExpireAt === undefined || now + want <= h.maxExpireAt;
  };

  /** A new lease, then the owners render with it, then the old one is revoked; also for an expired lease. */
  const rotate = async (h: Held, signal: AbortSignal): Promise<void> => {
    // A render that found the lease expired may be making the new one already: join it.
    const expired = h.expireAt <= clock.now();
    const pending = inflight.get(h.key);
    const next = await (pending ?? track(h.key, () => create(h, h.key, h.owners, signal)));
    logger.info(
      expired ? "dynamic secret lease replaced after it expired: rendering its templates" : "dynamic secret lease rotated: rendering its templates before revoking the old one",
      { ...label(next), old: h.leaseId },
    );
    await deps.onRotated?.([...next.owners]).catch((e: Error) => logger.warn("templates did not all render after a rotation", { error: e.message }));
    // A render that made the new lease revoked the old one itself.
    if (!pending) await revoke(h, expired ? "expired" : "rotated");
  };

  const maintain = async (h: Held, signal: AbortSignal): Promise<void> => {
    const now = clock.now();
    const expired = h.expireAt <= now;
    if (expired && h.owners.size === 0) {
      held.delete(h.key);
      logger.warn("dynamic secret lease expired", label(h));
      await persist();
      return;
    }
    try {
      if (expired) {
        // Every renewal failed, or the machine slept through them: the file holds dead credentials.
        logger.warn("dynamic secret lease expired; making a new one", label(h));
      } else if (renewable(h, now)) {
        try {
          const res = await call("lease renewal", (token) => deps.client.renewLease(h.leaseId, { ...folder(h), ...(h.ttl && { ttl: h.ttl }) }, { token, signal }), signal);
          h.expireAt = Date.parse(res.lease.expireAt);
          h.since = clock.now();
          h.failures = 0;
          h.retryAt = undefined;
          logger.info("dynamic secret lease renewed", { ...label(h), expireAt: new Date(h.expireAt).toISOString() });
          await persist();
          return;
        } catch (err) {
          if (isRetryable(err) || signal.aborted) throw err;
          logger.info("lease renewal refused, replacing the lease", { ...label(h), error: (err as Error).message });
        }
      }
      if (h.owners.size === 0) {
        // No template uses it any more (a reload dropped it): let it expire rather than make new ones.
        h.retryAt = h.expireAt;
        return;
      }
      await rotate(h, signal);
      h.failures = 0;
    } catch (err) {
      if (signal.aborted) return;
      const delay = backoffDelay(h.failures++, { baseDelayMs: 1_000, maxDelayMs: 60_000 }, deps.random);
      // Woken at expiry at the latest, which makes a new lease; past it, backoff alone.
      h.retryAt = h.expireAt > clock.now() ? Math.min(clock.now() + delay, h.expireAt) : clock.now() + delay;
      logger.error("cannot keep the dynamic secret lease alive, retrying", { ...label(h), error: (err as Error).message, retryInMs: Math.round(delay) });
    }
  };

  const dueAt = (h: Held) => h.retryAt ?? h.since + (h.expireAt - h.since) * RENEW_AT_FRACTION;

  /**
   * Renews and rotates leases until `signal` aborts. Leases made in one render fall due milliseconds
   * apart, so one is often overdue by the time another's renewal returns: each pass handles every
   * lease that is due when it looks, looking again after each one, and never sleeps past an overdue one.
   */
  const run = async (signal: AbortSignal): Promise<void> => {
    while (!signal.aborted) {
      const handled = new Set<Held>();
      for (;;) {
        const now = clock.now();
        const h = [...held.values()].find((x) => !handled.has(x) && (dueAt(x) <= now || x.expireAt <= now));
        if (!h || signal.aborted) break;
        handled.add(h);
        await maintain(h, signal);
      }
      const now = clock.now();
      // A lease still due after its turn (a clock skewed against the server's) waits a second, not a spin.
      const next = Math.min(...[...held.values()].map((h) => (handled.has(h) ? Math.max(dueAt(h), now + 1_000) : dueAt(h))), now + 3_600_000);
      // AbortSignal.any also covers a signal that was aborted while we were busy above.
      const timer = new AbortController();
      await Promise.race([clock.sleep(Math.max(0, next - now), AbortSignal.any([signal, timer.signal])).catch(() => {}), new Promise<void>((r) => (wake = r))]);
      wake = undefined;
      timer.abort();
    }
  };

  return {
    acquire,
    run,
    /** After a reload: owners are re-learnt from the new templates' renders. */
    resetOwners: () => held.forEach((h) => h.owners.clear()),
    /** Templates that have used a lease (their files hold lease credentials). */
    owners: () => new Set([...held.values()].flatMap((h) => [...h.owners])),
    leases: () => [...held.values()].map((h) => ({ leaseId: h.leaseId, key: h.key, expireAt: h.expireAt, owners: [...h.owners] })),
    /** revoke-credentials-on-shutdown: every lease, and the cache forgets them. */
    revokeAll: async (): Promise<boolean> => {
      const all = [...held.values()];
      held.clear();
      const results = await Promise.all(all.map((h) => revoke(h, "shutdown")));
      await persist();
      return results.every(Boolean);
    },
  };
};
export type LeaseManager = ReturnType<typeof createLeaseManager>;
