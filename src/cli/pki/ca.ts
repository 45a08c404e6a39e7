import { Command, Option } from "commander";
import type { CaObject, CreateCaBody } from "../../client/admin.js";
import { looksLikeId } from "../../client/admin.js";
import { KEY_ALGORITHMS } from "../../client/types.js";
import { REASON_HELP, UsageError, action, addCommonOptions, dateOrDuration, intOption, keyValues, pick, revocationReason, shortDate, table } from "./common.js";
import type { Context } from "./common.js";

/** `kms pki ca create|list|get`: internal CAs (api.md 7.2). */

interface CreateOptions {
  name: string; type: "root" | "intermediate"; commonName?: string; organization: string; ou: string; country: string; province: string;
  locality: string; keyAlgorithm: string; parent?: string; notAfter?: string; maxPathLength?: number; disabled?: boolean;
}

/** A CA by id, or by name within `--project`. */
export const resolveCa = async (ctx: Context, ref: string): Promise<CaObject> => {
  if (looksLikeId(ref)) return ctx.client.getCa(ref);
  return pick("certificate authority", ref, await ctx.client.listCas(await ctx.projectId()), (c) => c.name);
};

const caDetails = (ca: CaObject): [string, unknown][] => [
  ["id", ca.id], ["name", ca.name], ["project", ca.projectId], ["type", ca.configuration.type], ["status", ca.status],
  ["subject", ca.configuration.dn], ["key algorithm", ca.configuration.keyAlgorithm], ["not before", shortDate(ca.configuration.notBefore)],
  ["not after", shortDate(ca.configuration.notAfter)],
  ["max path length", ca.configuration.maxPathLength === -1 ? "unlimited" : ca.configuration.maxPathLength],
  ["parent", ca.configuration.parentCaId ?? (ca.configuration.type === "root" ? "-" : "external")], ["serial", ca.configuration.serialNumber],
];

export const caCommand = (): Command => {
  const cmd = new Command("ca").description("certificate authorities (root and intermediate)");
  const createCmd = addCommonOptions(new Command("create"), { project: true })
    .description("create a root CA, or an intermediate: signed now by an internal --parent, or without one left pending an external signature")
    .requiredOption("--name <name>", "CA name, unique in the project (lower-case letters, digits, dashes)")
    .addOption(new Option("--type <type>", "root or intermediate").choices(["root", "intermediate"]).default("root"))
    .option("--common-name <cn>", "subject common name (default: the name)")
    .option("--organization <o>", "subject organization", "")
    .option("--ou <ou>", "subject organizational unit", "")
    .option("--country <c>", "subject country (two letters)", "")
    .option("--province <st>", "subject state or province", "")
    .option("--locality <l>", "subject locality", "")
    .addOption(new Option("--key-algorithm <alg>", "CA key algorithm").choices(KEY_ALGORITHMS).default("EC_prime256v1"))
    .option("--parent <ca>", "intermediate only: the internal parent CA (id or name) that signs it now")
    .option("--not-after <when>", "expiry: an ISO date or a duration from now such as 5y (default 10y for a root)")
    .option("--max-path-length <n>", "BasicConstraints pathLen; -1 = unlimited (default)", intOption)
    .option("--disabled", "create it disabled: no issuance until it is enabled");
  createCmd.action(action(async (ctx) => {
    const o = createCmd.opts() as CreateOptions;
    if (o.type === "root" && o.parent) throw new UsageError("--parent: only an intermediate has a parent (add --type intermediate)");
    const projectId = await ctx.projectId();
    const parent = o.parent ? await resolveCa(ctx, o.parent) : undefined;
    const body: CreateCaBody = {
      projectId, name: o.name, status: o.disabled ? "disabled" : "active",
      configuration: {
        type: o.type, commonName: o.commonName ?? o.name, organization: o.organization, ou: o.ou, country: o.country, province: o.province,
        locality: o.locality, keyAlgorithm: o.keyAlgorithm,
        ...(o.notAfter && { notAfter: dateOrDuration("--not-after", o.notAfter) }),
        ...(o.maxPathLength !== undefined && { maxPathLength: o.maxPathLength }),
        ...(parent && { parentCaId: parent.id }),
      },
    };
    const ca = await ctx.client.createCa(body);
    if (ctx.output === "json") return ctx.json(ca);
    ctx.print(keyValues(caDetails(ca)));
    if (ca.status === "pending-certificate")
      ctx.print(`\nThis intermediate waits for its certificate: fetch its CSR (GET /api/v1/cert-manager/ca/internal/${ca.id}/csr), have it signed, then import it (POST .../${ca.id}/import-certificate). See docs/pki.md.`);
  }));

  const listCmd = addCommonOptions(new Command("list"), { project: true }).description("list the CAs of a project");
  listCmd.action(action(async (ctx) => {
    const cas = await ctx.client.listCas(await ctx.projectId());
    if (ctx.output === "json") return ctx.json(cas);
    if (cas.length === 0) return ctx.print("No certificate authorities in this project.");
    ctx.print(table(["id", "name", "type", "status", "key", "not after", "subject"], cas.map((c) => [
      c.id, c.name, c.configuration.type, c.status, c.configuration.keyAlgorithm, shortDate(c.configuration.notAfter), c.configuration.dn,
    ])));
  }));

  const getCmd = addCommonOptions(new Command("get"), { project: true })
    .description("show one CA (by id, or by name with --project)")
    .argument("<ca>", "CA id or name")
    .option("--pem", "print its certificate and chain (PEM) instead of the details");
  getCmd.action(action(async (ctx, ref: string) => {
    const ca = await resolveCa(ctx, ref);
    const pem = getCmd.opts().pem ? await ctx.client.getCaCertificate(ca.id) : undefined;
    if (ctx.output === "json") return ctx.json(pem ? { ...ca, certificate: pem } : ca);
    if (pem) return ctx.print(`${pem.certificate.trim()}\n${pem.certificateChain?.trim() ?? ""}`.trim());
    ctx.print(keyValues(caDetails(ca)));
  }));

  const renewCmd = addCommonOptions(new Command("renew"), { project: true })
    .description("a new certificate for the CA's key and subject, later notAfter (a root signs itself, an intermediate its KMS parent)")
    .argument("<ca>", "CA id or name")
    .requiredOption("--not-after <when>", "the new expiry: an ISO date or a duration from now such as 10y");
  renewCmd.action(action(async (ctx, ref: string) => {
    const ca = await resolveCa(ctx, ref);
    const r = await ctx.client.renewCa(ca.id, dateOrDuration("--not-after", String(renewCmd.opts().notAfter)));
    if (ctx.output === "json") return ctx.json(r);
    ctx.print(keyValues(caDetails(await ctx.client.getCa(ca.id))));
  }));

  const revokeCmd = addCommonOptions(new Command("revoke"), { project: true })
    .description("revoke an intermediate CA: its parent's CRL and OCSP answers list it at once; it and the CAs below it stop issuing")
    .argument("<ca>", "CA id or name")
    .option("--reason <reason>", REASON_HELP, "UNSPECIFIED");
  revokeCmd.action(action(async (ctx, ref: string) => {
    const reason = revocationReason(revokeCmd.opts().reason);
    const ca = await resolveCa(ctx, ref);
    const r = await ctx.client.revokeCa(ca.id, reason);
    if (ctx.output === "json") return ctx.json(r);
    ctx.print(keyValues([
      ["revoked", `${ca.name} (${ca.id})`], ["serials", r.serialNumbers.join(", ")], ["revoked at", shortDate(r.revokedAt)], ["reason", reason],
      ["disabled below it", r.disabledCaIds.length ? r.disabledCaIds.join(", ") : undefined],
    ]));
  }));

  return cmd.addCommand(createCmd).addCommand(listCmd).addCommand(getCmd).addCommand(renewCmd).addCommand(revokeCmd);
};
