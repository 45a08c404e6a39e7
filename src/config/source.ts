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
  if (b64) return { name: CONFIG_ENV, read: () => decodeBase64Config(b64) };
  return undefined;
};

/** The variable's YAML; Buffer.from(…, "base64") skips what is not base64, so say so rather than parse the debris. */
const decodeBase64Config = (b64: string): string => {
  const compact = b64.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) throw new Error(`${CONFIG_ENV} is not base64 (encode the YAML file with \`base64 -w0 agent.yaml\`)`);
  const text = Buffer.from(compact, compact.includes("-") || compact.includes("_") ? "base64url" : "base64").toString("utf8");
  if (text.includes("\uFFFD")) throw new Error(`${CONFIG_ENV} does not decode to text: it should be the base64 of the YAML configuration`);
  return text;
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
