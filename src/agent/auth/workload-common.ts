import { readFileSync, statSync } from "node:fs";
import type { Clock } from "../../core/clock.js";
import type { KmsClient } from "../../client/kms-client.js";
import type { PathProblem } from "../../config/yaml.js";
import type { LoginClient, WorkloadLoginCall } from "./auth-method.js";
import { looksLikePath } from "./universal-auth.js";

/** What the workload methods share: `identity-id` as a value or a file, file checks, and the injected surroundings. */

export interface WorkloadAuthDeps {
  /** Endpoint overrides and AWS credentials are read from here; default process.env. */
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** Home directory for ~/.aws/credentials; default os.homedir(). */
  homeDir?: string;
}

export const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * Seed 003 writes `identity-id: "./identity-id"` (a file), seed 001 the id itself: a value naming an existing file
 * is read from it, one that looks like a path but names no file is an error (never sent as if it were the id).
 */
export const readIdentityId = (value: string): string => {
  if (isFile(value)) {
    const v = readFileSync(value, "utf8").trim();
    if (!v) throw new Error(`identity-id file ${JSON.stringify(value)} is empty`);
    return v;
  }
  if (looksLikePath(value)) throw new Error(`identity-id file ${JSON.stringify(value)} does not exist`);
  return value;
};

/** Reads a file the method needs at every login (tokens and certificates rotate), naming the key when it fails. */
export const readRequiredFile = (path: string, key: string): string => {
  try {
    const v = readFileSync(path, "utf8").trim();
    if (!v) throw new Error("is empty");
    return v;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : (e as Error).message;
    throw new Error(`${key}: file ${JSON.stringify(path)} ${why}`);
  }
};

/** Config-loader checks: keys holding paths to files that must exist (identity-id only when it looks like a path). */
export const checkFiles = (raw: Record<string, unknown>, basePath: (string | number)[], pathKeys: string[]): PathProblem[] => {
  const problems: PathProblem[] = [];
  const id = raw["identity-id"];
  if (typeof id === "string" && looksLikePath(id) && !isFile(id)) problems.push({ path: [...basePath, "identity-id"], message: `identity-id file ${JSON.stringify(id)} does not exist` });
  for (const key of pathKeys) {
    const v = raw[key];
    if (typeof v === "string" && v !== "" && !isFile(v)) problems.push({ path: [...basePath, key], message: `file ${JSON.stringify(v)} does not exist` });
  }
  return problems;
};

/** The login call of a method; the agent's client always has it, a universal-auth-only fake does not. */
export const loginCall = <K extends WorkloadLoginCall>(client: LoginClient, name: K): NonNullable<Pick<KmsClient, K>[K]> => {
  const fn = client[name];
  if (typeof fn !== "function") throw new Error(`this KMS client has no ${name}`);
  return fn as NonNullable<Pick<KmsClient, K>[K]>;
};

/** `http://host:port` from an env override that may omit the scheme (GCE_METADATA_HOST is host:port). */
export const baseUrl = (value: string): string => (/^https?:\/\//.test(value) ? value : `http://${value}`).replace(/\/+$/, "");
