import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { createAdminClient, looksLikeId } from "../../client/admin.js";
import type { AdminClient } from "../../client/admin.js";
import { KmsApiError, KmsNetworkError, KmsResponseError } from "../../client/errors.js";
import { parseDuration } from "../../config/duration.js";
import { addPolicyDuration } from "../../core/pki/policy-rules.js";

/**
 * What every `kms pki` command shares: the connection options, the output format, how a reference
 * (id or name) is resolved, and how a failure ends the process. Exit codes: 0 done, 1 the server or the
 * network said no (its message is printed), 2 the command line is wrong (nothing was sent).
 */

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export type OutputFormat = "text" | "json";

/** A mistake on the command line found by us rather than by commander: exit 2, like commander's own. */
export class UsageError extends Error {}

export interface CommonOptions {
  address: string;
  token?: string;
  output: OutputFormat;
  project?: string;
}

export const addCommonOptions = (cmd: Command, { project }: { project: boolean }): Command => {
  cmd
    .addOption(new Option("--address <url>", "KMS server address").env("KMS_ADDRESS").default("http://127.0.0.1:8080"))
    .addOption(new Option("--token <token>", "access token of a machine identity (prefer the environment variable)").env("KMS_TOKEN"))
    .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"));
  if (project) cmd.addOption(new Option("--project <id-or-slug>", "project (its id or slug)").env("KMS_PROJECT"));
  return cmd;
};

export interface Context {
  client: AdminClient;
  output: OutputFormat;
  /** The project id for `--project` (an id is used as is, a slug is looked up); a usage error when absent. */
  projectId(): Promise<string>;
  /** Whether a project was given (--project or KMS_PROJECT). */
  hasProject(): boolean;
  print(text: string): void;
  json(value: unknown): void;
}

const contextOf = (o: CommonOptions): Context => {
  if (!o.token) throw new UsageError("no access token: set KMS_TOKEN (or pass --token)");
  try {
    new URL(o.address);
  } catch {
    throw new UsageError(`--address: "${o.address}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  const client = createAdminClient({ address: o.address, token: o.token, userAgent: "kms-cli" });
  let project: Promise<string> | undefined;
  return {
    client,
    output: o.output,
    projectId: () => {
      if (!o.project) throw new UsageError("--project is required (a project id or slug; or set KMS_PROJECT)");
      const ref = o.project;
      project ??= looksLikeId(ref) ? Promise.resolve(ref) : client.getProject(ref).then((p) => p.id);
      return project;
    },
    hasProject: () => !!o.project,
    print: (text) => process.stdout.write(text.endsWith("\n") ? text : text + "\n"),
    json: (value) => process.stdout.write(JSON.stringify(value, null, 2) + "\n"),
  };
};

/** Why a request failed, in one line: the server's own message first (api.md 0.4). */
export const describeFailure = (err: unknown): string => {
  if (err instanceof KmsApiError) {
    let message = err.serverMessage;
    // A 422 carries zod issues; name each field instead of printing JSON.
    try {
      const issues = JSON.parse(message) as { path?: unknown[]; message?: string }[];
      if (Array.isArray(issues)) message = issues.map((i) => `${(i.path ?? []).join(".")}: ${i.message}`).join("; ");
    } catch { /* a plain message */ }
    return `${message} (HTTP ${err.status}${err.wireName ? ` ${err.wireName}` : ""}${err.reqId ? `, request ${err.reqId}` : ""})`;
  }
  if (err instanceof KmsNetworkError || err instanceof KmsResponseError) return err.message;
  return (err as Error)?.message ?? String(err);
};

/**
 * The action wrapper: builds the context from the command's options and maps failures to exit codes.
 * `fail` is the command's own error reporter, so usage errors look like commander's.
 */
export const action = <A extends unknown[]>(run: (ctx: Context, ...args: A) => Promise<void>) =>
  async function (this: Command, ...args: unknown[]) {
    const cmd = this;
    const opts = cmd.opts() as CommonOptions;
    let ctx: Context | undefined;
    try {
      ctx = contextOf(opts);
      await run(ctx, ...(args.slice(0, -2) as A));
    } catch (err) {
      if (err instanceof CommanderError) throw err;
      if (err instanceof UsageError) cmd.error(`error: ${err.message}`, { exitCode: EXIT_USAGE, code: "kms.usage" });
      process.stderr.write(`${commandPath(cmd)}: ${describeFailure(err)}\n`);
      process.exitCode = EXIT_FAILURE;
    } finally {
      await ctx?.client.close();
    }
  };

const commandPath = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
};

/**
 * Commander exits 1 on a usage error; ours is 2, so scripts can tell "you typed it wrong" from "the server
 * refused". Applied to every command of the tree (addCommand does not pass settings down).
 */
export const usageExitCodes = (cmd: Command): Command => {
  cmd.showHelpAfterError("(add --help for usage)");
  cmd.exitOverride((err) => {
    const ok = err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help";
    process.exit(ok ? 0 : EXIT_USAGE);
  });
  for (const sub of cmd.commands) usageExitCodes(sub);
  return cmd;
};

// --- argument parsing ------------------------------------------------------------------------------------

/** `a,b` and repeated flags both work: `--dns a --dns b,c` gives [a, b, c]. */
export const collect = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value.split(",").map((s) => s.trim()).filter(Boolean),
];

/** A whole-number option; commander reports the error (exit 2). */
export const intOption = (value: string): number => {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a whole number.`);
  return Number(value);
};

/** An ISO date, or a duration from now (`90d`, `5y`, `12h`): what humans mean by "until". */
export const dateOrDuration = (name: string, value: string, now = Date.now()): string => {
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw new UsageError(`${name}: "${value}" is not a date`);
    return new Date(t).toISOString();
  }
  // Years are calendar years, as in policies (`validity.max`) and the server's ten-year default; the duration
  // parser's fixed 365-day year would end a "10y" CA two or three days early.
  const years = /^(\d{1,4})y$/.exec(value);
  if (years) return new Date(addPolicyDuration(now, { amount: Number(years[1]), unit: "y" })).toISOString();
  try {
    return new Date(now + parseDuration(value)).toISOString();
  } catch (e) {
    throw new UsageError(`${name}: "${value}" is neither an ISO date nor a duration such as 90d or 5y (${(e as Error).message})`);
  }
};

/** Resolves an id-or-name reference against a list the caller fetched. */
export const pick = <T extends { id: string }>(what: string, ref: string, items: readonly T[], nameOf: (t: T) => string): T => {
  const hit = items.find((i) => i.id === ref) ?? items.find((i) => nameOf(i) === ref);
  if (!hit) throw new Error(`no ${what} with id or name "${ref}" in this project`);
  return hit;
};

// --- human output --------------------------------------------------------------------------------------

const cell = (v: unknown): string => (v === null || v === undefined || v === "" ? "-" : Array.isArray(v) ? v.join(",") || "-" : String(v));

/** An aligned table with an upper-case header; the last column is not padded. */
export const table = (headers: readonly string[], rows: readonly unknown[][]): string => {
  const cells = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join("\n") + "\n";
};

/** `key: value` lines, values aligned; absent values are skipped. */
export const keyValues = (pairs: readonly [string, unknown][]): string => {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length)) + 1;
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width)} ${cell(v)}`).join("\n") + "\n";
};

/** `2026-03-01T10:00:00.000Z` → `2026-03-01 10:00:00Z`: easier to read in a table, still unambiguous. */
export const shortDate = (iso: string | null | undefined): string | undefined =>
  iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : undefined;

const REVOCATION_REASONS = [
  "UNSPECIFIED", "KEY_COMPROMISE", "CA_COMPROMISE", "AFFILIATION_CHANGED", "SUPERSEDED", "CESSATION_OF_OPERATION", "CERTIFICATE_HOLD",
  "PRIVILEGE_WITHDRAWN", "A_A_COMPROMISE",
] as const;
export const REASON_HELP = `one of ${REVOCATION_REASONS.join(", ")} (any case, - or _)`;

/** `--reason key-compromise` → `KEY_COMPROMISE`, checked: what `cert revoke` and `ca revoke` send. */
export const revocationReason = (raw: unknown): string => {
  const reason = String(raw).toUpperCase().replace(/-/g, "_");
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) throw new UsageError(`--reason: "${String(raw)}" is not one of ${REVOCATION_REASONS.join(", ")}`);
  return reason;
};
