import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export const ROOT_KEY_FILE = "root.key";

/**
 * The root key comes from KMS_ENCRYPTION_KEY (base64 of 32 bytes) or from a 0600 key file in the data
 * directory, created on first start and reused afterwards.
 */
/** `created`: the key file was made just now (a new data directory). */
/** A root key given as base64 (an environment variable, a key file): exactly 32 bytes, or an error naming `what`. */
export const parseRootKey = (b64: string, what: string): Buffer => {
  const key = Buffer.from(b64.trim(), "base64");
  if (key.length !== 32 || key.toString("base64").replace(/=+$/, "") !== b64.trim().replace(/=+$/, ""))
    throw new Error(`${what} must be the base64 encoding of exactly 32 bytes (e.g. \`openssl rand -base64 32\`)`);
  return key;
};

export const loadRootKey = (env: string | undefined, dataDir: string): { key: Buffer; source: string; created?: true } => {
  if (env !== undefined && env !== "") return { key: parseRootKey(env, "KMS_ENCRYPTION_KEY"), source: "KMS_ENCRYPTION_KEY" };
  const file = join(dataDir, ROOT_KEY_FILE);
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) throw new Error(`${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
    const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
    if (key.length !== 32) throw new Error(`${file} does not hold a base64 32-byte key`);
    return { key, source: file };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(file, key.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  return { key, source: `${file} (created)`, created: true };
};
