import { readFileSync } from "node:fs";
import type { ValidateResult } from "./yaml.js";

/** Both agents take their configuration from --config FILE or, in containers, from this variable. */
export const CONFIG_ENV = "KMS_AGENT_CONFIG_BASE64";
/** Exit code of an agent whose configuration (or command line) has problems: restarting will not help. */
export const EXIT_CONFIG = 2;

export interface ConfigSource {
  /** The file name, or CONFIG_ENV: what problems are reported against. */
  name: string;
  read(): string;
}

export const configSource = (configPath: string | undefined, env: NodeJS.ProcessEnv): ConfigSource | undefined => {
  if (configPath) return { name: configPath, read: () => readFileSync(configPath, "utf8") };
  const b64 = env[CONFIG_ENV];
  if (b64) return { name: CONFIG_ENV, read: () => Buffer.from(b64, "base64").toString("utf8") };
  return undefined;
};

/** Reads the source (again on every reload) and validates it; an unreadable file is one more problem. */
export const readConfig = <T>(src: ConfigSource, validate: (text: string) => ValidateResult<T>): ValidateResult<T> => {
  let text: string;
  try {
    text = src.read();
  } catch (err) {
    return { ok: false, problems: [{ path: "", message: `cannot read the configuration: ${(err as Error).message}` }] };
  }
  return validate(text);
};
