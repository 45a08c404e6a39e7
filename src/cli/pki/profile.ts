import { Command, Option } from "commander";
import type { ProfileObject } from "../../client/admin.js";
import { looksLikeId } from "../../client/admin.js";
import { KEY_ALGORITHMS, SIGNATURE_ALGORITHMS } from "../../client/types.js";
import { UsageError, action, addCommonOptions, collect, intOption, keyValues, table } from "./common.js";
import type { Context } from "./common.js";
import { resolveCa } from "./ca.js";
import { resolvePolicy } from "./policy.js";

/** `kms pki profile create|list` (api.md 7.5): the name agents ask for, tying a policy to an issuer. */

interface CreateOptions {
  slug: string; policy: string; ca?: string; selfSigned?: boolean; description?: string; ttlDays?: number; keyAlgorithm?: string;
  signatureAlgorithm?: string; keyUsages?: string[]; extendedKeyUsages?: string[]; autoRenew?: boolean; renewBeforeDays?: number;
}

/** A profile by id, or by slug (within `--project` when given, else anywhere the token can see). */
export const resolveProfile = async (ctx: Context, ref: string, project: string | undefined): Promise<ProfileObject> => {
  if (looksLikeId(ref)) return ctx.client.getProfile(ref);
  return ctx.client.getProfileBySlug(ref, project ? await ctx.projectId() : undefined);
};

const details = (p: ProfileObject, names: { ca?: string; policy?: string } = {}): [string, unknown][] => [
  ["id", p.id], ["slug", p.slug], ["project", p.projectId], ["description", p.description ?? undefined],
  ["issuer", p.issuerType === "self-signed" ? "self-signed" : `CA ${names.ca ?? p.caId}`], ["policy", names.policy ?? p.certificatePolicyId],
  ["enrollment", p.enrollmentType], ["defaults", p.defaults ? JSON.stringify(p.defaults) : undefined],
];

export const profileCommand = (): Command => {
  const cmd = new Command("profile").description("certificate profiles: a policy and an issuer under one slug");
  const createCmd = addCommonOptions(new Command("create"), { project: true })
    .description("create a profile issuing from a CA (--ca) or self-signed (--self-signed)")
    .requiredOption("--slug <slug>", "profile slug, unique in the project (agents refer to it)")
    .requiredOption("--policy <policy>", "certificate policy (id or name)")
    .option("--ca <ca>", "issuing CA (id or name)")
    .option("--self-signed", "every certificate is signed by its own key (no CA)")
    .option("--description <text>", "description")
    .option("--ttl-days <n>", "default lifetime when a request gives none (server default 90)", intOption)
    .addOption(new Option("--key-algorithm <alg>", "default key algorithm for server-generated keys").choices(KEY_ALGORITHMS))
    .addOption(new Option("--signature-algorithm <alg>", "default signature algorithm").choices(SIGNATURE_ALGORITHMS))
    .option("--key-usages <usages>", "default key usages", collect)
    .option("--extended-key-usages <usages>", "default extended key usages", collect)
    .option("--auto-renew", "mark certificates of this profile for automatic renewal")
    .option("--renew-before-days <n>", "with --auto-renew: days before expiry (1-30)", intOption);
  createCmd.action(action(async (ctx) => {
    const o = createCmd.opts() as CreateOptions;
    if (!!o.ca === !!o.selfSigned) throw new UsageError("give exactly one of --ca <ca> and --self-signed");
    const projectId = await ctx.projectId();
    const [policy, ca] = await Promise.all([resolvePolicy(ctx, o.policy), o.ca ? resolveCa(ctx, o.ca) : undefined]);
    const defaults = {
      ...(o.ttlDays !== undefined && { ttlDays: o.ttlDays }), ...(o.keyAlgorithm && { keyAlgorithm: o.keyAlgorithm }),
      ...(o.signatureAlgorithm && { signatureAlgorithm: o.signatureAlgorithm }), ...(o.keyUsages && { keyUsages: o.keyUsages }),
      ...(o.extendedKeyUsages && { extendedKeyUsages: o.extendedKeyUsages }),
    };
    const p = await ctx.client.createProfile({
      projectId, slug: o.slug, certificatePolicyId: policy.id, enrollmentType: "api", issuerType: ca ? "ca" : "self-signed",
      ...(ca && { caId: ca.id }), ...(o.description && { description: o.description }),
      apiConfig: { autoRenew: !!o.autoRenew, ...(o.renewBeforeDays !== undefined && { renewBeforeDays: o.renewBeforeDays }) },
      ...(Object.keys(defaults).length > 0 && { defaults }),
    });
    if (ctx.output === "json") return ctx.json(p);
    ctx.print(keyValues(details(p, { ca: ca?.name, policy: policy.name })));
  }));

  const listCmd = addCommonOptions(new Command("list"), { project: true }).description("list the profiles of a project");
  listCmd.action(action(async (ctx) => {
    const projectId = await ctx.projectId();
    const [{ certificateProfiles: list, totalCount }, cas, policies] = await Promise.all([
      ctx.client.listProfiles(projectId, { limit: 1000 }), ctx.client.listCas(projectId), ctx.client.listPolicies(projectId, { limit: 1000 }),
    ]);
    if (ctx.output === "json") return ctx.json({ certificateProfiles: list, totalCount });
    if (list.length === 0) return ctx.print("No certificate profiles in this project.");
    const caName = new Map(cas.map((c) => [c.id, c.name]));
    const policyName = new Map(policies.certificatePolicies.map((p) => [p.id, p.name]));
    ctx.print(table(["id", "slug", "issuer", "policy", "enrollment", "default ttl"], list.map((p) => [
      p.id, p.slug, p.issuerType === "self-signed" ? "self-signed" : caName.get(p.caId ?? "") ?? p.caId, policyName.get(p.certificatePolicyId) ?? p.certificatePolicyId,
      p.enrollmentType, typeof p.defaults?.ttlDays === "number" ? `${p.defaults.ttlDays}d` : undefined,
    ])));
  }));

  return cmd.addCommand(createCmd).addCommand(listCmd);
};
