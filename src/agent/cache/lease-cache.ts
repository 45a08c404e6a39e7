import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../../core/clock.js";
import { ensureDir, writeFileAtomic } from "../files.js";
import type { Logger } from "../log.js";
import type { PersistentCacheConfig } from "./config.js";
import type { LeaseRequest } from "../secrets/leases.js";

/**
 * The persistent lease cache: dynamic-secret leases (id, expiry and credentials) survive an agent
 * restart, so a restarted agent reuses them instead of creating new database users. One file,
 * `<path>/leases.v1`, rewritten atomically on every change, sealed with AES-256-GCM under a key derived
 * (HKDF-SHA256) from the service-account token (`kubernetes`) or a key file (`file`). A file that does
 * not decrypt (tampered, or written under another token or key) is discarded with a warning: the agent
 * then makes new leases. Entries leave the cache when their lease expires.
 */

export interface CachedLease extends LeaseRequest {
  key: string;
  leaseId: string;
  data: Record<string, unknown>;
  /** Epoch ms. */
  expireAt: number;
  createdAt: number;
  /** createdAt + the dynamic secret's max TTL; absent when unlimited or unknown. */
  maxExpireAt?: number;
}

export interface LeaseCache {
  /** Entries still valid; an unreadable file is discarded (with a warning) and reads as empty. */
  read(): Promise<Map<string, CachedLease>>;
  write(entries: Iterable<CachedLease>): Promise<void>;
  readonly file: string;
}

const FILE = "leases.v1";
const AAD = Buffer.from("kms-agent lease cache v1");
const MAGIC = "kms-lease-cache";

export const deriveCacheKey = (material: Buffer): Buffer =>
  Buffer.from(hkdfSync("sha256", material, Buffer.from("kms-agent"), Buffer.from("lease cache v1"), 32));

/** Reads the key material; a `file` cache's key file is created (32 random bytes, 0600) when missing. */
export const cacheKeyMaterial = async (cfg: PersistentCacheConfig): Promise<Buffer> => {
  if (cfg.type === "kubernetes") {
    const token = await readFile(cfg["service-account-token-path"]);
    if (token.length === 0) throw new Error(`service-account token ${cfg["service-account-token-path"]} is empty`);
    return token;
  }
  try {
    const k = await readFile(cfg["key-file"]);
    if (k.length === 0) throw new Error(`cache key file ${cfg["key-file"]} is empty`);
    return k;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const k = randomBytes(32);
    await writeFileAtomic(cfg["key-file"], k, { mode: 0o600 });
    return k;
  }
};

export const seal = (key: Buffer, plaintext: Buffer): string => {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(AAD);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return JSON.stringify({ format: MAGIC, v: 1, iv: iv.toString("base64"), tag: c.getAuthTag().toString("base64"), ct: ct.toString("base64") });
};

export const open = (key: Buffer, text: string): Buffer => {
  const f = JSON.parse(text) as { format?: string; v?: number; iv?: string; tag?: string; ct?: string };
  if (f.format !== MAGIC || f.v !== 1 || !f.iv || !f.tag || !f.ct) throw new Error("not a lease cache file");
  const d = createDecipheriv("aes-256-gcm", key, Buffer.from(f.iv, "base64"));
  d.setAAD(AAD);
  d.setAuthTag(Buffer.from(f.tag, "base64"));
  return Buffer.concat([d.update(Buffer.from(f.ct, "base64")), d.final()]);
};

export const openLeaseCache = async (cfg: PersistentCacheConfig, deps: { clock: Clock; logger: Logger }): Promise<LeaseCache> => {
  const key = deriveCacheKey(await cacheKeyMaterial(cfg));
  await ensureDir(cfg.path, 0o700);
  const file = join(cfg.path, FILE);
  const live = (e: CachedLease) => e.expireAt > deps.clock.now();
  let writing: Promise<void> = Promise.resolve();

  return {
    file,
    read: async () => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
        throw err;
      }
      try {
        const entries = JSON.parse(open(key, text).toString("utf8")) as CachedLease[];
        return new Map(entries.filter(live).map((e) => [e.key, e]));
      } catch {
        deps.logger.warn(
          `lease cache ${file} cannot be decrypted: tampered with, or written under another ${cfg.type === "kubernetes" ? "service-account token" : "key file"}; discarded, new leases will be made`,
        );
        await rm(file, { force: true });
        return new Map();
      }
    },
    // Writes are queued so the file always ends with the latest state.
    write: (entries) => {
      const snapshot = [...entries].filter(live);
      writing = writing.catch(() => {}).then(() => writeFileAtomic(file, seal(key, Buffer.from(JSON.stringify(snapshot))), { mode: 0o600 }));
      return writing;
    },
  };
};
