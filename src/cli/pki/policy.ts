import { readFileSync } from "node:fs";
import { Command } from "commander";
import { parse as parseYaml } from "yaml";
import type { PolicyObject } from "../../client/admin.js";
import { looksLikeId } from "../../client/admin.js";
import { UsageError, action, addCommonOptions, collect, keyValues, table } from "./common.js";
import type { Context } from "./common.js";

/**
 * `kms pki policy create|list` (api.md 7.4). The flags cover the common case, "these values are allowed";
 * `--rules <file>` takes the whole rule set (required and denied lists too) as JSON or YAML in the API's
 * shape, and the flags add to it.
 */

interface CreateOptions {
  name: string; description?: string; rules?: string;
  commonNames?: string[]; dnsNames?: string[]; ipAddresses?: string[]; emails?: string[]; uris?: string[];
  keyUsages?: string[]; extendedKeyUsages?: string[]; signatureAlgorithms?: string[]; keyAlgorithms?: string[]; maxValidity?: string;
}

type Rule = { allowed?: string[]; required?: string[]; denied?: string[] };
type TypedRule = Rule & { type: string };
const RULE_KEYS = ["subject", "sans", "keyUsages", "extendedKeyUsages", "algorithms", "validity"] as const;

const readRules = (file: string): Record<string, unknown> => {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--rules: cannot read ${file}: ${(e as Error).message}`);
  }
  let rules: unknown;
  try {
    rules = parseYaml(text); // YAML is a superset of JSON: one parser for both
  } catch (e) {
    throw new UsageError(`--rules: ${file} is neither JSON nor YAML: ${(e as Error).message}`);
  }
  if (!rules || typeof rules !== "object" || Array.isArray(rules)) throw new UsageError(`--rules: ${file} must hold an object with ${RULE_KEYS.join(", ")}`);
  const unknown = Object.keys(rules).filter((k) => !(RULE_KEYS as readonly string[]).includes(k) && k !== "description");
  if (unknown.length) throw new UsageError(`--rules: ${file}: unknown key ${unknown.map((k) => JSON.stringify(k)).join(", ")} (expected ${RULE_KEYS.join(", ")})`);
  return rules as Record<string, unknown>;
};

/** Adds `values` to the allowed list of the `type` rule (creating the rule when the file had none). */
const allowTyped = (rules: TypedRule[], type: string, values: string[] | undefined): TypedRule[] => {
  if (!values?.length) return rules;
  const existing = rules.find((r) => r.type === type);
  if (existing) existing.allowed = [...(existing.allowed ?? []), ...values];
  else rules.push({ type, allowed: values });
  return rules;
};

export const buildPolicyBody = (projectId: string, o: CreateOptions): Record<string, unknown> => {
  const file = o.rules ? readRules(o.rules) : {};
  const subject = allowTyped([...((file.subject as TypedRule[] | undefined) ?? [])], "common_name", o.commonNames);
  let sans = [...((file.sans as TypedRule[] | undefined) ?? [])];
  for (const [type, values] of [["dns_name", o.dnsNames], ["ip_address", o.ipAddresses], ["email", o.emails], ["uri", o.uris]] as const)
    sans = allowTyped(sans, type, values);
  const allow = (rule: unknown, values: string[] | undefined): Rule | undefined => {
    const r = (rule as Rule | undefined) ?? undefined;
    if (!values?.length) return r;
    return { ...r, allowed: [...(r?.allowed ?? []), ...values] };
  };
  const fileAlgs = (file.algorithms as { signature?: string[]; keyAlgorithm?: string[] } | undefined) ?? {};
  const algorithms = {
    ...fileAlgs,
    ...(o.signatureAlgorithms?.length && { signature: [...(fileAlgs.signature ?? []), ...o.signatureAlgorithms] }),
    ...(o.keyAlgorithms?.length && { keyAlgorithm: [...(fileAlgs.keyAlgorithm ?? []), ...o.keyAlgorithms] }),
  };
  const validity = o.maxValidity ? { max: o.maxValidity } : file.validity;
  const keyUsages = allow(file.keyUsages, o.keyUsages);
  const extendedKeyUsages = allow(file.extendedKeyUsages, o.extendedKeyUsages);
  const description = o.description ?? (typeof file.description === "string" ? file.description : undefined);
  return {
    projectId, name: o.name,
    ...(description !== undefined && { description }),
    ...(subject.length && { subject }), ...(sans.length && { sans }),
    ...(keyUsages && { keyUsages }), ...(extendedKeyUsages && { extendedKeyUsages }),
    ...(Object.keys(algorithms).length && { algorithms }), ...(validity !== undefined && { validity }),
  };
};

const ruleText = (r: Rule): string =>
  [r.allowed?.join(","), r.required?.length && `required ${r.required.join(",")}`, r.denied?.length && `denied ${r.denied.join(",")}`].filter(Boolean).join(" ");
const typedText = (rules: TypedRule[] | undefined): string => (rules ?? []).map((r) => `${r.type}: ${ruleText(r)}`).join("; ");

/** A policy by id, or by name within `--project`. */
export const resolvePolicy = async (ctx: Context, ref: string): Promise<PolicyObject> => {
  if (looksLikeId(ref)) return ctx.client.getPolicy(ref);
  const { certificatePolicies } = await ctx.client.listPolicies(await ctx.projectId(), { search: ref, limit: 1000 });
  const hit = certificatePolicies.find((p) => p.name === ref);
  if (!hit) throw new Error(`no certificate policy named "${ref}" in this project`);
  return hit;
};

const details = (p: PolicyObject): [string, unknown][] => [
  ["id", p.id], ["name", p.name], ["project", p.projectId], ["description", p.description ?? undefined],
  ["subject", typedText(p.subject) || "(none permitted)"], ["sans", typedText(p.sans) || "(none permitted)"],
  ["key usages", p.keyUsages && Object.keys(p.keyUsages).length ? ruleText(p.keyUsages) : "(none permitted)"],
  ["extended key usages", p.extendedKeyUsages && Object.keys(p.extendedKeyUsages).length ? ruleText(p.extendedKeyUsages) : "(none permitted)"],
  ["signature algorithms", p.algorithms?.signature?.join(",") ?? "any"], ["key algorithms", p.algorithms?.keyAlgorithm?.join(",") ?? "any"],
  ["max validity", p.validity?.max ?? "up to the CA's notAfter"],
];

export const policyCommand = (): Command => {
  const cmd = new Command("policy").description("certificate policies: what a profile may issue");
  const createCmd = addCommonOptions(new Command("create"), { project: true })
    .description("create a policy; anything it does not mention is denied (see docs/pki.md for the rule semantics)")
    .requiredOption("--name <name>", "policy name, unique in the project (letters, digits, - and _)")
    .option("--description <text>", "description")
    .option("--rules <file>", "JSON or YAML with subject, sans, keyUsages, extendedKeyUsages, algorithms, validity (api.md 7.4 shape)")
    .option("--common-names <patterns>", "allowed subject common names, comma-separated or repeated; * is one DNS label", collect)
    .option("--dns-names <patterns>", "allowed dns_name SANs (e.g. *.example.com)", collect)
    .option("--ip-addresses <ips>", "allowed ip_address SANs (addresses or CIDR ranges)", collect)
    .option("--emails <patterns>", "allowed email SANs", collect)
    .option("--uris <patterns>", "allowed uri SANs (* matches any run of characters)", collect)
    .option("--key-usages <usages>", "allowed key usages, e.g. digital_signature,key_encipherment", collect)
    .option("--extended-key-usages <usages>", "allowed extended key usages, e.g. server_auth,client_auth", collect)
    .option("--signature-algorithms <algs>", "allowed signature algorithms (SHA256-ECDSA or ECDSA-SHA256 spelling)", collect)
    .option("--key-algorithms <algs>", "allowed key algorithms (ECDSA-P256 or EC_prime256v1 spelling)", collect)
    .option("--max-validity <n>", "longest lifetime: <digits><d|h|m|y>, m = MONTHS (e.g. 90d, 6m, 1y)");
  createCmd.action(action(async (ctx) => {
    const p = await ctx.client.createPolicy(buildPolicyBody(await ctx.projectId(), createCmd.opts() as CreateOptions));
    if (ctx.output === "json") return ctx.json(p);
    ctx.print(keyValues(details(p)));
  }));

  const listCmd = addCommonOptions(new Command("list"), { project: true }).description("list the policies of a project");
  listCmd.action(action(async (ctx) => {
    const { certificatePolicies: list, totalCount } = await ctx.client.listPolicies(await ctx.projectId(), { limit: 1000 });
    if (ctx.output === "json") return ctx.json({ certificatePolicies: list, totalCount });
    if (list.length === 0) return ctx.print("No certificate policies in this project.");
    ctx.print(table(["id", "name", "max validity", "subject", "sans"], list.map((p) => [p.id, p.name, p.validity?.max, typedText(p.subject), typedText(p.sans)])));
  }));

  return cmd.addCommand(createCmd).addCommand(listCmd);
};
