import type { Secret } from "../../client/types.js";
import type { FuncMap } from "../../template/funcs.js";
import { goFunc, withGoType } from "../../template/value.js";
import type { SecretSource } from "./source.js";
import type { LeaseManager } from "./leases.js";

/**
 * The agent's secret template functions (seed 003), with Infisical's CLI as the reference for names,
 * arguments and item shapes (packages/cmd/agent.go, packages/util/secrets.go):
 *
 *   secret / listSecrets        "<project-id>" "<env>" "<path>" [`{"recursive":bool,"expandSecretReferences":bool}`]
 *   listSecretsByProjectSlug    "<project-slug>" "<env>" "<path>" [same options]
 *   getSecretByName             "<project-id>" "<env>" "<path>" "<name>"
 *
 * Each call records what it read (project, environment, path, recursive) in the render's context: the
 * agent subscribes to exactly those change streams. Unlike upstream, list items carry their ID too.
 */

/** One folder the template read, the unit of a change-stream subscription. */
export interface SecretScope {
  projectId: string;
  environment: string;
  secretPath: string;
  recursive: boolean;
}

export const scopeKey = (s: SecretScope): string => `${s.projectId}\0${s.environment}\0${s.secretPath}\0${s.recursive ? 1 : 0}`;

/** What one render of one template may use; a fresh one per render. */
export interface RenderContext {
  source: SecretSource;
  signal?: AbortSignal;
  /** Scopes read so far in this render. */
  reads: Map<string, SecretScope>;
  /** Per-render memo of project slug → id. */
  projectIds: Map<string, string>;
  /** Dynamic-secret leases (absent in a preview); `owner` names the template for rotations. */
  leases?: Pick<LeaseManager, "acquire">;
  owner?: string;
  /** Dynamic secrets this render used. */
  usedLeases: Set<string>;
  /** Every value the render fetched (secrets, lease credentials): scrubbed from its errors (redact.ts). */
  fetched: Set<string>;
}

export const newRenderContext = (source: SecretSource, signal?: AbortSignal, extra: Pick<RenderContext, "leases" | "owner"> = {}): RenderContext => ({
  source, signal, reads: new Map(), projectIds: new Map(), usedLeases: new Set(), fetched: new Set(), ...extra,
});

/** Go's models.Tag. */
export class Tag {
  constructor(
    public ID: string,
    public Name: string,
    public Slug: string,
    public Color: string,
  ) {
    withGoType(this, "models.Tag");
  }
}

/** Go's models.SingleEnvironmentVariable: field names and order as upstream, so `{{.}}` prints alike. */
export class SingleEnvironmentVariable {
  Key = "";
  WorkspaceId = "";
  Value = "";
  Type = "";
  ID = "";
  SecretPath = "";
  Tags: Tag[] = withGoType([], "[]models.Tag");
  Comment = "";
  Etag = "";
  SkipMultilineEncoding = false;
  constructor(init: Partial<SingleEnvironmentVariable>) {
    Object.assign(this, init);
    withGoType(this, "models.SingleEnvironmentVariable");
  }
}

const tagsOf = (s: Secret): Tag[] => {
  const raw = (s as { tags?: unknown }).tags;
  const tags = Array.isArray(raw)
    ? raw.map((t: { id?: string; name?: string; slug?: string; color?: string }) => new Tag(t.id ?? "", t.name ?? "", t.slug ?? "", t.color ?? ""))
    : [];
  return withGoType(tags, "[]models.Tag");
};

export const toItem = (s: Secret, withPath = true): SingleEnvironmentVariable =>
  new SingleEnvironmentVariable({
    Key: s.secretKey,
    WorkspaceId: s.workspace ?? "",
    Value: s.secretValue,
    Type: s.type ?? "",
    ID: s.id ?? s._id ?? "",
    SecretPath: withPath ? s.secretPath ?? "" : "",
    Tags: tagsOf(s),
    Comment: s.secretComment ?? "",
    SkipMultilineEncoding: (s as { skipMultilineEncoding?: boolean | null }).skipMultilineEncoding === true,
  });

export interface ListOptions {
  recursive: boolean;
  expandSecretReferences: boolean;
}

/**
 * Parses the optional JSON argument as Go's encoding/json would into upstream's secretArguments: keys
 * match case-insensitively, unknown keys are ignored, null leaves the default, a wrong type is an error.
 */
export const parseListOptions = (args: string[]): ListOptions => {
  const out: ListOptions = { recursive: false, expandSecretReferences: true };
  if (args.length === 0) return out;
  let v: unknown;
  try {
    v = JSON.parse(args[0]!);
  } catch (e) {
    throw new Error(`invalid options ${JSON.stringify(args[0])}: ${(e as Error).message}; expected e.g. {"recursive": true, "expandSecretReferences": true}`);
  }
  if (v === null) return out;
  if (typeof v !== "object" || Array.isArray(v)) throw new Error(`json: cannot unmarshal ${Array.isArray(v) ? "array" : typeof v} into Go value of type secretArguments`);
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const field = k.toLowerCase() === "recursive" ? "recursive" : k.toLowerCase() === "expandsecretreferences" ? "expandSecretReferences" : undefined;
    if (!field || val === null) continue;
    if (typeof val !== "boolean") {
      const got = Array.isArray(val) ? "array" : typeof val === "object" ? "object" : typeof val;
      throw new Error(`json: cannot unmarshal ${got} into Go struct field secretArguments.${field} of type bool`);
    }
    out[field] = val;
  }
  return out;
};

/**
 * Imported secrets follow the folder's own, each key once: the folder wins, then the LAST import that
 * has the key (the CLI walks imports in reverse, api.md 4.5). Like upstream, imported items carry no
 * SecretPath, so `{{.SecretPath}}` tells a folder's own secrets from imported ones.
 */
const withImports = (secrets: Secret[], imports: { secrets: Secret[] }[] | undefined): SingleEnvironmentVariable[] => {
  const items = secrets.map((s) => toItem(s));
  if (!imports?.length) return items;
  const seen = new Set(items.map((i) => i.Key));
  for (let i = imports.length - 1; i >= 0; i--) {
    for (const s of imports[i]!.secrets) {
      if (seen.has(s.secretKey)) continue;
      seen.add(s.secretKey);
      items.push(toItem(s, false));
    }
  }
  return items;
};

const record = (ctx: RenderContext, scope: SecretScope) => ctx.reads.set(scopeKey(scope), scope);

/**
 * An empty argument would still make a request, and an empty secret name reaches the folder's list
 * route, whose answer then fails the client's check as "expected object, received undefined".
 */
export const requireArgs = (args: readonly string[], names: readonly (string | undefined)[]): void => {
  names.forEach((what, i) => {
    if (what !== undefined && (args[i] ?? "").trim() === "") throw new Error(`the ${what} (argument ${i + 1}) is empty`);
  });
};

// Only the arguments a request cannot do without are checked here; the folder is the server's to judge.
const PROJECT_ENV = ["project id", "environment slug"];

const listFor = async (ctx: RenderContext, projectId: string, environment: string, secretPath: string, args: string[]) => {
  requireArgs([projectId, environment], PROJECT_ENV);
  const opts = parseListOptions(args);
  // Recorded before the fetch: a folder that fails now (not created yet) is watched all the same.
  record(ctx, { projectId, environment, secretPath, recursive: opts.recursive });
  const res = await ctx.source.list({ projectId, environment, secretPath, ...opts }, ctx.signal);
  // An imported folder's changes matter too: subscribe to it (chains of imports arrive flattened).
  for (const imp of res.imports ?? []) record(ctx, { projectId, environment: imp.environment, secretPath: imp.secretPath, recursive: false });
  const items = withImports(res.secrets, res.imports);
  for (const i of items) ctx.fetched.add(i.Value);
  return withGoType(items, "[]models.SingleEnvironmentVariable");
};

const LIST_SIGNATURE = { in: ["string", "string", "string", "string"], variadic: true, out: "[]models.SingleEnvironmentVariable", err: true };

/** The functions bound to whatever render is current (a template's renders never overlap). */
export const secretFunctions = (current: () => RenderContext): FuncMap => {
  const listSecrets = goFunc(LIST_SIGNATURE, (projectId: string, environment: string, secretPath: string, ...args: string[]) =>
    listFor(current(), projectId, environment, secretPath, args),
  );
  const listSecretsByProjectSlug = goFunc(LIST_SIGNATURE, async (projectSlug: string, environment: string, secretPath: string, ...args: string[]) => {
    requireArgs([projectSlug, environment], ["project slug", "environment slug"]);
    const ctx = current();
    let id = ctx.projectIds.get(projectSlug);
    if (id === undefined) {
      try {
        id = await ctx.source.projectIdBySlug(projectSlug, ctx.signal);
      } catch (e) {
        throw new Error(`failed to get project by slug: ${(e as Error).message}`, { cause: e });
      }
      ctx.projectIds.set(projectSlug, id);
    }
    return listFor(ctx, id, environment, secretPath, args);
  });
  const getSecretByName = goFunc(
    { in: ["string", "string", "string", "string"], out: "models.SingleEnvironmentVariable", err: true },
    async (projectId: string, environment: string, secretPath: string, secretName: string) => {
      requireArgs([projectId, environment, secretPath, secretName], [...PROJECT_ENV, undefined, "secret name"]);
      const ctx = current();
      record(ctx, { projectId, environment, secretPath, recursive: false });
      const item = toItem(await ctx.source.get({ projectId, environment, secretPath, secretName }, ctx.signal));
      ctx.fetched.add(item.Value);
      return item;
    },
  );
  return { secret: listSecrets, listSecrets, listSecretsByProjectSlug, getSecretByName };
};
