import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { PathProblem } from "../../config/yaml.js";
import type { SecretsAgentConfig } from "./config.js";
import { decodeBase64Template, parseAgentTemplate, templateName } from "./render.js";
import type { RendererOptions } from "./render.js";

/**
 * Checks that need more than one key or the filesystem, run on the raw document so they report even
 * when the schema failed elsewhere: the operator sees every problem at once, before any network call.
 * Templates are parsed here too, so a syntax error stops the start (exit 2) with Go's message.
 */

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Raw) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v : undefined);

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** Why a file could not be created at `path`, or undefined when it could (nearest existing directory writable). */
export const unwritableReason = (path: string): string | undefined => {
  let dir = dirname(resolve(path));
  for (;;) {
    try {
      const st = statSync(dir);
      if (!st.isDirectory()) return `${dir} is not a directory`;
      accessSync(dir, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && dirname(dir) !== dir) {
        dir = dirname(dir);
        continue;
      }
      if (code === "ENOTDIR") return `a parent of ${dir} is not a directory`;
      return `cannot write in ${dir} (${code ?? (e as Error).message})`;
    }
  }
};

const TEMPLATE_SOURCES = ["source-path", "template-content", "base64-template-content"] as const;

export const checkTemplates = (rawTemplates: unknown, opts: RendererOptions = {}): PathProblem[] => {
  const problems: PathProblem[] = [];
  if (!Array.isArray(rawTemplates)) return problems;
  rawTemplates.forEach((rt, i) => {
    const t = obj(rt);
    if (!t) return;
    const at = (...p: (string | number)[]) => ["templates", i, ...p];
    const given = TEMPLATE_SOURCES.filter((k) => t[k] !== undefined);
    if (given.length === 0) {
      problems.push({ path: at(), message: "needs one of source-path, template-content or base64-template-content", atKey: true });
      return;
    }
    if (given.length > 1) {
      for (const k of given.slice(1)) problems.push({ path: at(k), message: `use only one of ${given.join(", ")}`, atKey: true });
      return;
    }
    const key = given[0]!;
    let text: string | undefined;
    if (key === "source-path") {
      const p = str(t[key]);
      if (p) {
        const read = readTemplateFile(p);
        if (typeof read === "string") text = read;
        else problems.push({ path: at(key), message: read.problem });
      }
    } else if (key === "base64-template-content") {
      const b = t[key];
      if (typeof b === "string") {
        try {
          text = decodeBase64Template(b);
        } catch (e) {
          problems.push({ path: at(key), message: (e as Error).message });
        }
      }
    } else if (typeof t[key] === "string") {
      text = t[key] as string;
    }
    if (text !== undefined) {
      try {
        parseAgentTemplate(templateName({ [key]: t[key] } as never), text, opts);
      } catch (e) {
        problems.push({ path: at(key), message: (e as Error).message });
      }
    }
  });
  return problems;
};

const isDirectory = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

const readTemplateFile = (p: string): string | { problem: string } => {
  if (isDirectory(p)) return { problem: `template file ${JSON.stringify(p)} is a directory` };
  if (!isFile(p)) return { problem: `template file ${JSON.stringify(p)} does not exist` };
  try {
    return readFileSync(p, "utf8");
  } catch (e) {
    return { problem: `cannot read template file ${JSON.stringify(p)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
};

/** Every file the agent writes (sinks, template destinations) once, in a directory it can write. */
export const checkOutputs = (rawSinks: unknown, rawTemplates: unknown): PathProblem[] => {
  const problems: PathProblem[] = [];
  const owners = new Map<string, string>();
  const claim = (path: string, owner: string, at: (string | number)[]) => {
    const full = resolve(path);
    const prev = owners.get(full);
    if (prev) problems.push({ path: at, message: `the same file is already written by ${prev}` });
    else owners.set(full, owner);
    // The rename that replaces the file would fail at every write, long after the start looked fine.
    if (isDirectory(path)) return problems.push({ path: at, message: `${JSON.stringify(path)} is a directory; name the file to write` });
    const why = unwritableReason(path);
    if (why) problems.push({ path: at, message: why });
  };
  if (Array.isArray(rawSinks)) {
    rawSinks.forEach((rs, i) => {
      const p = str(obj(obj(rs)?.config)?.path);
      if (p && obj(rs)?.type === "file") claim(p, `sinks[${i}]`, ["sinks", i, "config", "path"]);
    });
  }
  if (Array.isArray(rawTemplates)) {
    rawTemplates.forEach((rt, i) => {
      const p = str(obj(rt)?.["destination-path"]);
      if (p) claim(p, `templates[${i}]`, ["templates", i, "destination-path"]);
    });
  }
  return problems;
};

export const checkCache = (rawCache: unknown): PathProblem[] => {
  const p = obj(obj(rawCache)?.persistent);
  if (!p) return [];
  const problems: PathProblem[] = [];
  const at = (k: string) => ["cache", "persistent", k];
  if (p.type === "kubernetes") {
    const token = str(p["service-account-token-path"]) ?? "/var/run/secrets/kubernetes.io/serviceaccount/token";
    if (!isFile(token)) {
      problems.push({
        path: p["service-account-token-path"] === undefined ? ["cache", "persistent", "type"] : at("service-account-token-path"),
        message: `service-account token ${JSON.stringify(token)} does not exist: the kubernetes cache only works inside a pod (use type "file" elsewhere)`,
      });
    } else if (statSync(token).size === 0) problems.push({ path: at("service-account-token-path"), message: `service-account token ${JSON.stringify(token)} is empty` });
  }
  if (p.type === "file") {
    const key = str(p["key-file"]);
    if (key && !isFile(key)) {
      const why = unwritableReason(key);
      if (why) problems.push({ path: at("key-file"), message: `key file does not exist and cannot be created: ${why}` });
    }
  }
  const path = str(p.path);
  if (path) {
    const why = unwritableReason(`${path}/x`);
    if (why) problems.push({ path: at("path"), message: why });
  }
  return problems;
};

/** Keys of the certificate agent's config, which is a different command here. */
export const checkForeignKeys = (raw: Raw): PathProblem[] => {
  const problems: PathProblem[] = [];
  for (const k of ["certificates", "version"]) {
    if (raw[k] !== undefined) problems.push({ path: [k], message: `"${k}" belongs to the certificate agent: run "kms cert-manager agent --config FILE"`, atKey: true });
  }
  return problems;
};

/**
 * Permissions that work but are probably a mistake: warned about at start and on reload, not refused
 * (an operator may have a reason). Special bits on a data file, anyone able to rewrite what the
 * application reads, anyone able to read the access token.
 */
export const riskyPermissions = (config: Pick<SecretsAgentConfig, "sinks" | "templates">): PathProblem[] => {
  const out: PathProblem[] = [];
  const check = (path: PathProblem["path"], mode: number, token: boolean) => {
    const octal = `0${mode.toString(8)}`;
    if (mode & 0o7000) out.push({ path, message: `permission ${octal} sets setuid, setgid or sticky bits on a file that holds ${token ? "a token" : "secrets"}` });
    if (mode & 0o002) out.push({ path, message: `permission ${octal} lets every user on the machine rewrite the file` });
    if (token && mode & 0o004) out.push({ path, message: `permission ${octal} lets every user on the machine read the access token` });
  };
  config.sinks.forEach((s, i) => check(["sinks", i, "config", "permission"], s.config.permission, true));
  config.templates.forEach((t, i) => check(["templates", i, "permission"], t.permission, false));
  return out;
};
