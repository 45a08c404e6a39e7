import type { Clock } from "../core/clock.js";
import type { KmsClient } from "../client/kms-client.js";
import type { TokenResponse } from "../client/types.js";
import type { AuthMethod, LoginClient } from "./auth/auth-method.js";
import type { Logger } from "./log.js";
import { backoffDelay, withRetry } from "./retry.js";
import type { RetryPolicy } from "./retry.js";

/**
 * Keeps the agent authenticated: log in, renew the access token at about 2/3 of its TTL, log in again
 * before the token's max TTL (a renewal past it is refused, api.md 2.5). Callers ask `get()` for a valid
 * token; `run()` is the background loop that renews ahead of time so a request rarely waits for a login.
 */

export interface TokenManagerDeps {
  /** Every login call the configured method may need, plus renew and revoke. */
  client: LoginClient & Pick<KmsClient, "renewToken" | "revokeToken">;
  method: AuthMethod;
  clock: Clock;
  retry: RetryPolicy;
  logger: Logger;
  random?: () => number;
  /** Told whenever the agent gains or loses a valid token (feeds the `authenticated` gauge). */
  onAuthenticated?: (authenticated: boolean) => void;
  /** Told every new token string (after a login or a renewal), e.g. to rewrite sink files. */
  onToken?: (token: string) => void;
}

interface Held {
  token: string;
  obtainedAt: number;
  /** 0 when the server hands out non-expiring tokens. */
  ttlMs: number;
  expiresAt: number;
  /** Login time + accessTokenMaxTTL; renewals never move it. Infinity when there is no max. */
  maxExpiresAt: number;
}

export const RENEW_AT_FRACTION = 2 / 3;
/** Re-login this long before the max TTL, so the new token exists before the old one dies. */
export const MAX_TTL_MARGIN_FRACTION = 0.1;
const LOOP_BACKOFF_MAX_MS = 60_000;

const isUnauthorized = (err: unknown): boolean => (err as { status?: number })?.status === 401;

export const createTokenManager = (deps: TokenManagerDeps) => {
  const { client, method, clock, retry, logger } = deps;
  let held: Held | undefined;
  let inflight: Promise<Held> | undefined;
  let authenticated = false;

  const setAuthenticated = (v: boolean) => {
    if (v !== authenticated) {
      authenticated = v;
      deps.onAuthenticated?.(v);
    }
  };

  const fromResponse = (r: TokenResponse, loginAt: number, previous?: Held): Held => {
    const now = clock.now();
    const ttlMs = Math.max(0, r.expiresIn) * 1000;
    const maxExpiresAt = previous ? previous.maxExpiresAt : r.accessTokenMaxTTL > 0 ? loginAt + r.accessTokenMaxTTL * 1000 : Infinity;
    return { token: r.accessToken, obtainedAt: now, ttlMs, expiresAt: ttlMs > 0 ? now + ttlMs : Infinity, maxExpiresAt };
  };

  const onRetry = (what: string) => (i: { retry: number; delayMs: number; error: unknown }) =>
    logger.warn(`${what} failed, retrying`, { retry: i.retry, delayMs: Math.round(i.delayMs), error: (i.error as Error)?.message });

  const login = async (signal?: AbortSignal): Promise<Held> => {
    const at = clock.now();
    const r = await withRetry(() => method.login(client, signal), retry, { clock, signal, random: deps.random, onRetry: onRetry("login") });
    logger.info("authenticated", { method: method.type, expiresInSeconds: r.expiresIn });
    deps.onToken?.(r.accessToken);
    return fromResponse(r, at);
  };

  const renew = async (h: Held, signal?: AbortSignal): Promise<Held> => {
    const r = await withRetry(() => client.renewToken(h.token, { signal }), retry, { clock, signal, random: deps.random, onRetry: onRetry("token renewal") });
    logger.debug("access token renewed", { expiresInSeconds: r.expiresIn });
    deps.onToken?.(r.accessToken);
    return fromResponse(r, h.obtainedAt, h);
  };

  /** Renewal only makes sense while the old token lives and the new lifetime stays inside max TTL. */
  const canRenew = (h: Held, now: number) => h.ttlMs > 0 && now < h.expiresAt && now + h.ttlMs <= h.maxExpiresAt;

  const refresh = (signal?: AbortSignal): Promise<Held> => {
    if (inflight) return inflight;
    const p = (async () => {
      const current = held;
      try {
        let next: Held;
        if (current && canRenew(current, clock.now())) {
          try {
            next = await renew(current, signal);
          } catch (err) {
            if (signal?.aborted) throw err;
            logger.info("token renewal refused, logging in again", { error: (err as Error).message });
            next = await login(signal);
          }
        } else {
          next = await login(signal);
        }
        held = next;
        setAuthenticated(true);
        return next;
      } catch (err) {
        if (!signal?.aborted && (!held || clock.now() >= held.expiresAt)) {
          held = undefined;
          setAuthenticated(false);
        }
        throw err;
      }
    })();
    inflight = p;
    p.then(
      () => (inflight = undefined),
      () => (inflight = undefined),
    );
    return p;
  };

  /** When the background loop should act next for this token. */
  const nextActionAt = (h: Held): number => {
    const renewAt = h.ttlMs > 0 ? h.obtainedAt + h.ttlMs * RENEW_AT_FRACTION : Infinity;
    const life = h.maxExpiresAt - h.obtainedAt;
    const reloginAt = Number.isFinite(h.maxExpiresAt) ? h.maxExpiresAt - Math.max(1_000, life * MAX_TTL_MARGIN_FRACTION) : Infinity;
    return Math.min(renewAt, reloginAt);
  };

  /** A valid token, logging in if needed. Throws the last error once retries are exhausted. */
  const get = async (signal?: AbortSignal): Promise<string> => {
    const h = held;
    // A token about to expire is refreshed rather than handed out for a request that may outlive it.
    if (h && clock.now() < h.expiresAt - Math.min(30_000, h.ttlMs * 0.1)) return h.token;
    return (await refresh(signal)).token;
  };

  /** Drops a token the server refused (401), so the next `get` logs in again. */
  const invalidate = (token: string) => {
    if (held?.token === token) {
      held = undefined;
      setAuthenticated(false);
    }
  };

  /** Calls `fn` with a token; on 401 logs in once more and repeats, since tokens can be revoked server-side. */
  const withToken = async <T>(fn: (token: string) => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const token = await get(signal);
    try {
      return await fn(token);
    } catch (err) {
      if (!isUnauthorized(err)) throw err;
      invalidate(token);
      return fn(await get(signal));
    }
  };

  /** Background loop: keeps a token fresh until `signal` aborts. Never throws except on abort. */
  const run = async (signal: AbortSignal): Promise<void> => {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const h = held ?? (await refresh(signal));
        failures = 0;
        const at = nextActionAt(h);
        if (!Number.isFinite(at)) {
          await clock.sleep(24 * 3_600_000, signal);
          continue;
        }
        await clock.sleep(Math.max(0, at - clock.now()), signal);
        if (held === h) await refresh(signal);
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        const delay = backoffDelay(failures - 1, { baseDelayMs: Math.max(retry.baseDelayMs, 1_000), maxDelayMs: LOOP_BACKOFF_MAX_MS }, deps.random);
        logger.error("authentication failed", { error: (err as Error).message, nextAttemptMs: Math.round(delay) });
        await clock.sleep(delay, signal).catch(() => {});
      }
    }
  };

  const revoke = async (signal?: AbortSignal): Promise<void> => {
    const h = held;
    if (!h) return;
    held = undefined;
    setAuthenticated(false);
    await client.revokeToken(h.token, { signal });
  };

  return { get, withToken, invalidate, run, revoke, isAuthenticated: () => authenticated };
};
export type TokenManager = ReturnType<typeof createTokenManager>;
