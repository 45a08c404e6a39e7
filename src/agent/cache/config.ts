import { z } from "zod";

/**
 * `cache.persistent`: where dynamic-secret leases survive a restart, encrypted with AES-256-GCM.
 * `kubernetes` (seed 003) derives the key from the pod's service-account token, so another pod (another
 * token) cannot read the cache; `file` (ours) keys it from a key file, for machines outside Kubernetes.
 */
export const DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token";

const nonEmpty = z.string().trim().min(1, "must not be empty");

export const KubernetesCacheConfig = z.strictObject({
  type: z.literal("kubernetes"),
  path: nonEmpty,
  "service-account-token-path": nonEmpty.default(DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH),
});

export const FileCacheConfig = z.strictObject({
  type: z.literal("file"),
  path: nonEmpty,
  /** 32 random bytes (or any secret text); created 0600 on first start when missing. */
  "key-file": nonEmpty,
});

export const PersistentCacheConfig = z.discriminatedUnion("type", [KubernetesCacheConfig, FileCacheConfig], {
  error: (iss) => {
    if (iss.code !== "invalid_union") return undefined;
    const t = (iss.input as { type?: unknown } | undefined)?.type;
    if (t === undefined) return 'is required (one of: "kubernetes", "file")';
    return `unknown cache type ${JSON.stringify(t)}; supported: "kubernetes", "file"`;
  },
});
export type PersistentCacheConfig = z.output<typeof PersistentCacheConfig>;

export const CacheConfig = z.strictObject({ persistent: PersistentCacheConfig.optional() });
export type CacheConfig = z.output<typeof CacheConfig>;
