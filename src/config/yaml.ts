import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, Scalar } from "yaml";
import type { Document, Node as YamlNode } from "yaml";
import type { z } from "zod";

/**
 * YAML configuration loading with positions. Every problem names its key path
 * (`certificates[0].lifecycle.renew-before-expiry`) and the line:column where it was written, and all
 * problems are reported at once: an operator fixing a config file should not have to iterate.
 */

export type PathSegment = string | number;

export interface ConfigProblem {
  /** Display path, e.g. `certificates[0].file-output.certificate.path`; empty for the document root. */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

/** A problem found by our own checks (after the schema), located later from its path. */
export interface PathProblem {
  path: PathSegment[];
  message: string;
  /** Point at the key rather than its value (unknown keys, missing keys). */
  atKey?: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[], readonly source = "config") {
    super(formatProblems(problems, source));
    this.name = new.target.name;
  }
}

export interface LoadedYaml {
  /** Plain JS value of the document, with root aliases already renamed. */
  value: unknown;
  /** Problems found while parsing (syntax errors, duplicate keys, alias clashes). */
  problems: ConfigProblem[];
  /** Turns a path in `value` into a display path and a position. */
  locate(problem: PathProblem): ConfigProblem;
}

export interface ParseYamlOptions {
  /** Root keys accepted under another name, e.g. `{ infisical: "kms" }`: the seeds use both spellings. */
  rootAliases?: Record<string, string>;
}

export const formatPath = (path: readonly PathSegment[]): string => {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
};

export const formatProblems = (problems: readonly ConfigProblem[], source: string): string => {
  const lines = problems.map((p) => {
    const where = p.line !== undefined ? `${source}:${p.line}:${p.column ?? 1}` : source;
    return `  ${where}: ${p.path === "" ? "" : `${p.path}: `}${p.message}`;
  });
  const noun = problems.length === 1 ? "problem" : "problems";
  return `${problems.length} ${noun} in ${source}:\n${lines.join("\n")}`;
};

// Modes such as `permission: 0644` are octal by convention, but YAML 1.2 reads a leading-zero number
// as decimal 644. Keep such scalars as their source text so the consumer can read them as octal,
// the way the Go agent (which decodes into a string) does.
const LEADING_ZERO_INT = /^0o?[0-7]+$/;

export const parseYaml = (text: string, options: ParseYamlOptions = {}): LoadedYaml => {
  const lineCounter = new LineCounter();
  // merge: `<<: *anchor` as Go's yaml.v3 reads it (the upstream agent's configurations use it).
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: true, uniqueKeys: true, prettyErrors: false, merge: true });
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const problems: ConfigProblem[] = [];
  for (const err of doc.errors) {
    const at = err.pos?.[0];
    problems.push({ path: "", ...(at !== undefined ? pos(at) : {}), message: err.message.split("\n")[0] ?? err.message });
  }

  visit(doc, {
    Scalar(_key, node: Scalar) {
      const src = (node as Scalar.Parsed).source;
      if (typeof node.value === "number" && node.type === Scalar.PLAIN && typeof src === "string" && LEADING_ZERO_INT.test(src)) {
        node.value = src;
      }
    },
  });

  // aliasOf maps the canonical root key to the key actually written, for locating and display.
  const writtenAs = new Map<string, string>();
  let value: unknown = problems.length ? undefined : doc.toJS({ maxAliasCount: 100 });
  if (value && typeof value === "object" && !Array.isArray(value)) {
    // Top-level `x-…` keys hold anchors for merging (as in docker-compose): not configuration.
    value = Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith("x-")));
    const obj = value as Record<string, unknown>;
    for (const [alias, canonical] of Object.entries(options.rootAliases ?? {})) {
      if (!(alias in obj)) continue;
      if (canonical in obj) {
        problems.push(locateIn(doc, pos, writtenAs, { path: [alias], message: `"${alias}" and "${canonical}" are the same section; keep one`, atKey: true }));
        continue;
      }
      const renamed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) renamed[k === alias ? canonical : k] = v;
      value = renamed;
      writtenAs.set(canonical, alias);
    }
  } else if (value === null || value === undefined) {
    if (problems.length === 0) value = {};
  }

  return { value, problems, locate: (p) => locateIn(doc, pos, writtenAs, p) };
};

type PosFn = (offset: number) => { line: number; column: number };

const locateIn = (doc: Document, pos: PosFn, writtenAs: Map<string, string>, problem: PathProblem): ConfigProblem => {
  const path = problem.path.map((seg, i) => (i === 0 && typeof seg === "string" ? writtenAs.get(seg) ?? seg : seg));
  let node: YamlNode | null | undefined = doc.contents as YamlNode | null;
  let keyNode: YamlNode | undefined;
  let found: YamlNode | undefined = node ?? undefined;
  let reached = 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as YamlNode;
      node = pair.value as YamlNode | null;
      found = node ?? keyNode;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as YamlNode | undefined;
      if (!item) break;
      keyNode = undefined;
      node = item;
      found = item;
    } else break;
    reached++;
  }
  // A problem about a key that was never written (missing) points at its parent; one about a key that
  // was written (unknown key) points at the key itself.
  const complete = reached === path.length;
  const target = complete ? (problem.atKey && keyNode ? keyNode : found) : keyNode ?? found;
  const offset = target?.range?.[0];
  return { path: formatPath(path), ...(offset !== undefined ? pos(offset) : {}), message: problem.message };
};

/** Flattens zod issues into path problems with messages written for operators. */
export const issuesToPathProblems = (issues: readonly z.core.$ZodIssue[], input: unknown): PathProblem[] => {
  const out: PathProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((s): s is PathSegment => typeof s !== "symbol");
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) out.push({ path: [...path, key], message: `unknown key "${key}"`, atKey: true });
        break;
      case "invalid_type": {
        const got = valueAt(input, path);
        if (got === undefined) out.push({ path, message: "is required", atKey: true });
        else out.push({ path, message: issue.message.startsWith("Invalid input") ? `expected ${issue.expected}, got ${describe(got)}` : issue.message });
        break;
      }
      case "invalid_value":
        out.push({
          path,
          message: issue.message.startsWith("Invalid") ? `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}` : issue.message,
        });
        break;
      case "invalid_union":
        out.push({ path, message: issue.message });
        break;
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
};

const valueAt = (input: unknown, path: readonly PathSegment[]): unknown => {
  let v: unknown = input;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
};

const describe = (v: unknown): string => {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
};

/** On success, `warnings` are things that work but are probably a mistake, located like problems. */
export type ValidateResult<T> = { ok: true; value: T; warnings?: ConfigProblem[] } | { ok: false; problems: ConfigProblem[] };

/**
 * Parses YAML text and validates it with a schema, then runs `check` (our own cross-field and
 * filesystem checks) and, on a valid configuration, `warn`. `check` sees the raw document, not the typed value, so that it runs even when
 * the schema failed elsewhere: the operator gets every problem in one go. Problems from all stages
 * are returned together, sorted by position.
 */
export const loadYamlConfig = <S extends z.ZodType>(
  text: string,
  schema: S,
  options: ParseYamlOptions & { check?: (raw: unknown) => PathProblem[]; warn?: (value: z.output<S>) => PathProblem[] } = {},
): ValidateResult<z.output<S>> => {
  const loaded = parseYaml(text, options);
  if (loaded.problems.length) return { ok: false, problems: loaded.problems };
  const parsed = schema.safeParse(loaded.value);
  const problems: ConfigProblem[] = [];
  if (!parsed.success) {
    for (const p of issuesToPathProblems(parsed.error.issues, loaded.value)) problems.push(loaded.locate(p));
  }
  if (options.check) {
    const seen = new Set(problems.map((p) => `${p.path}\0${p.message}`));
    for (const p of options.check(loaded.value)) {
      const located = loaded.locate(p);
      if (!seen.has(`${located.path}\0${located.message}`)) problems.push(located);
    }
  }
  if (problems.length) return { ok: false, problems: sortProblems(problems) };
  const value = parsed.data as z.output<S>;
  const warnings = options.warn ? sortProblems(options.warn(value).map((p) => loaded.locate(p))) : [];
  return { ok: true, value, warnings };
};

export const sortProblems = (problems: ConfigProblem[]): ConfigProblem[] =>
  [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
