import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const scryptAsync = promisify(scrypt) as (p: string, s: Buffer, n: number) => Promise<Buffer>;

/**
 * Client secrets and token secrets are 32 random bytes: a plain SHA-256 is enough to store them
 * (no dictionary to attack) and lets a login look the row up by hash.
 */
export const hashSecret = (secret: string): string => createHash("sha256").update(secret).digest("hex");

export const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export const randomToken = (bytes = 32): string => randomBytes(bytes).toString("base64url");

/** Human passwords (the bootstrap user's) are low-entropy: scrypt with a salt. */
export const hashPassword = async (password: string): Promise<string> => {
  const salt = randomBytes(16);
  const dk = await scryptAsync(password, salt, 32);
  return `scrypt.${salt.toString("base64")}.${dk.toString("base64")}`;
};
