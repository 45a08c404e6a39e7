import { isIP } from "node:net";

export interface HostPort { host: string; port: number }

export interface AcmeOptions {
  /**
   * KMS_ACME_HTTP01_OVERRIDE: send every http-01 validation request to this host:port instead of the name's
   * DNS address and port 80 (the Host header still names the identifier), as pebble's validation-port
   * setting does. For tests and closed networks; off by default.
   */
  http01Override?: HostPort;
  /** KMS_ACME_TLSALPN01_OVERRIDE: the same for tls-alpn-01 (instead of the name's address and port 443; SNI still names it). */
  tlsAlpn01Override?: HostPort;
  /** KMS_ACME_DNS_RESOLVER: comma-separated host[:port] resolvers for dns-01 TXT look-ups; default the system's. */
  dnsResolvers?: string[];
  /** KMS_ACME_ORDERS_PER_HOUR: new orders per account and hour (fixed window). */
  ordersPerHour: number;
  /** KMS_ACME_ACCOUNTS_PER_HOUR: new accounts per client IP and hour. */
  accountsPerHour: number;
  /** Attempts per challenge validation, a second apart, before it is invalid (a freshly written TXT may lag). */
  validationAttempts: number;
  validationRetryMs: number;
  /** Connect + response time allowed to one http-01 fetch or DNS look-up. */
  validationTimeoutMs: number;
}

export const DEFAULT_ACME_OPTIONS: AcmeOptions = {
  ordersPerHour: 300, accountsPerHour: 50, validationAttempts: 3, validationRetryMs: 1_000, validationTimeoutMs: 10_000,
};

/** "host:port", "[v6]:port" → HostPort; the error names the variable. */
export const parseHostPort = (raw: string, name: string, defaultPort?: number): HostPort => {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw) ?? /^([^:\s]+)(?::(\d+))?$/.exec(raw);
  const port = m?.[2] !== undefined ? Number(m[2]) : defaultPort;
  if (!m || port === undefined || !Number.isInteger(port) || port < 1 || port > 65535 || (raw.startsWith("[") && isIP(m[1]!) !== 6))
    throw new Error(`${name}: "${raw}" is not host:port (e.g. "127.0.0.1:5002" or "[::1]:5002")`);
  return { host: m[1]!, port };
};

const count = (env: Record<string, string | undefined>, name: string, fallback: number): number => {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`${name}: "${raw}" is not a positive whole number`);
  return Number(raw);
};

/** Read by the composition root only. */
export const acmeOptionsFromEnv = (env: Record<string, string | undefined>): AcmeOptions => {
  const override = env.KMS_ACME_HTTP01_OVERRIDE?.trim();
  const alpnOverride = env.KMS_ACME_TLSALPN01_OVERRIDE?.trim();
  const resolvers = env.KMS_ACME_DNS_RESOLVER?.split(",").map((s) => s.trim()).filter(Boolean);
  // Validate the resolvers here, so a typo stops the server at start and not at the first dns-01 challenge.
  for (const r of resolvers ?? []) parseHostPort(r, "KMS_ACME_DNS_RESOLVER", 53);
  return {
    ...DEFAULT_ACME_OPTIONS,
    ...(override && { http01Override: parseHostPort(override, "KMS_ACME_HTTP01_OVERRIDE") }),
    ...(alpnOverride && { tlsAlpn01Override: parseHostPort(alpnOverride, "KMS_ACME_TLSALPN01_OVERRIDE") }),
    ...(resolvers?.length && { dnsResolvers: resolvers }),
    ordersPerHour: count(env, "KMS_ACME_ORDERS_PER_HOUR", DEFAULT_ACME_OPTIONS.ordersPerHour),
    accountsPerHour: count(env, "KMS_ACME_ACCOUNTS_PER_HOUR", DEFAULT_ACME_OPTIONS.accountsPerHour),
  };
};
