import { DEFAULT_MIN_TTL_MS, parseMsDuration } from "./ttl.js";

export interface DynamicSecretOptions {
  /** How often the sweeper looks for expired leases: a lease outlives its TTL by at most about this long. */
  sweepIntervalMs: number;
  /** Shortest TTL accepted (api.md: 1m). Only tests lower it, to watch the sweeper within seconds. */
  minTtlMs: number;
  /** How long a provider may take to accept a connection before the request fails. */
  connectTimeoutMs: number;
}

export const DEFAULT_DYNAMIC_SECRET_OPTIONS: DynamicSecretOptions = { sweepIntervalMs: 10_000, minTtlMs: DEFAULT_MIN_TTL_MS, connectTimeoutMs: 10_000 };

const duration = (env: Record<string, string | undefined>, name: string, fallback: number, min: number): number => {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const ms = parseMsDuration(raw);
  if (ms === undefined || ms < min) throw new Error(`${name}: "${raw}" is not a duration of at least ${min}ms (e.g. "500ms", "2s", "10s")`);
  return ms;
};

/**
 * Read by the composition root only. `KMS_LEASE_SWEEP_INTERVAL` tunes the sweeper; `KMS_MIN_LEASE_TTL` is
 * for tests (it lets a lease live for "2s"), never for production: clients expect the 1m floor.
 */
export const dynamicSecretOptionsFromEnv = (env: Record<string, string | undefined>): DynamicSecretOptions => ({
  sweepIntervalMs: duration(env, "KMS_LEASE_SWEEP_INTERVAL", DEFAULT_DYNAMIC_SECRET_OPTIONS.sweepIntervalMs, 50),
  minTtlMs: duration(env, "KMS_MIN_LEASE_TTL", DEFAULT_DYNAMIC_SECRET_OPTIONS.minTtlMs, 1000),
  connectTimeoutMs: duration(env, "KMS_DYNAMIC_SECRET_CONNECT_TIMEOUT", DEFAULT_DYNAMIC_SECRET_OPTIONS.connectTimeoutMs, 100),
});
