import { existsSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { z } from "zod";
import type { PathProblem } from "../../config/yaml.js";
import type { AuthMethod } from "./auth-method.js";

/**
 * Universal auth: a client id and a client secret, each written either as a file path or as the value
 * itself (seed 001 shows both). A value naming an existing file is read from it; a value that looks
 * like a path (contains "/" or starts with "." or "~") but names no file is an error, so a typo in a
 * path is never sent to the server as if it were the secret.
 */
export const UniversalAuthConfig = z.strictObject({
  type: z.literal("universal-auth"),
  config: z.strictObject({
    "client-id": z.string().min(1),
    "client-secret": z.string().min(1),
    // Seed 001 spells it with dashes, seed 003 with underscores: accept both.
    "remove-client-secret-on-read": z.boolean().optional(),
    remove_client_secret_on_read: z.boolean().optional(),
  }),
});
export type UniversalAuthConfig = z.output<typeof UniversalAuthConfig>;

export const looksLikePath = (value: string): boolean => value.includes("/") || value.startsWith(".") || value.startsWith("~");

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

export interface UniversalAuthDeps {
  /** Credential files already read (and possibly removed) by an earlier load of the same config. */
  remembered?: Map<string, string>;
}

/** Checks for the config loader: credential files that should exist but don't. */
export const checkUniversalAuth = (raw: Record<string, unknown>, basePath: (string | number)[], deps: UniversalAuthDeps = {}): PathProblem[] => {
  const problems: PathProblem[] = [];
  for (const key of ["client-id", "client-secret"] as const) {
    const v = raw[key];
    if (typeof v !== "string" || v === "") continue;
    if (looksLikePath(v) && !isFile(v) && !deps.remembered?.has(v)) {
      problems.push({ path: [...basePath, key], message: `credential file ${JSON.stringify(v)} does not exist` });
    }
  }
  return problems;
};

const readCredential = (value: string, what: string, deps: UniversalAuthDeps): { value: string; file?: string } => {
  const known = deps.remembered?.get(value);
  if (known !== undefined) return { value: known, file: value };
  if (isFile(value)) {
    const content = readFileSync(value, "utf8").trim();
    if (content === "") throw new Error(`${what} file ${JSON.stringify(value)} is empty`);
    return { value: content, file: value };
  }
  if (looksLikePath(value)) throw new Error(`${what} file ${JSON.stringify(value)} does not exist`);
  return { value };
};

/** Reads the credentials now (so a bad file fails at start) and returns the method. */
export const createUniversalAuth = (cfg: UniversalAuthConfig, deps: UniversalAuthDeps = {}): AuthMethod => {
  const c = cfg.config;
  const id = readCredential(c["client-id"], "client-id", deps);
  const secret = readCredential(c["client-secret"], "client-secret", deps);
  const remove = c["remove-client-secret-on-read"] ?? c.remove_client_secret_on_read ?? false;
  if (id.file) deps.remembered?.set(id.file, id.value);
  if (secret.file) {
    deps.remembered?.set(secret.file, secret.value);
    if (remove && existsSync(secret.file)) unlinkSync(secret.file);
  }
  return {
    type: "universal-auth",
    login: (client, signal) => client.universalAuthLogin({ clientId: id.value, clientSecret: secret.value }, { signal }),
  };
};
