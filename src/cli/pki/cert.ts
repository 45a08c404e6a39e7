import { readFileSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { Command, Option } from "commander";
import type { CertificateRecord } from "../../client/admin.js";
import { KEY_ALGORITHMS, SIGNATURE_ALGORITHMS } from "../../client/types.js";
import type { IssueCertificateAttributes, IssueCertificateRequest, SanType } from "../../client/types.js";
import { commitTemp, writeTemp } from "../../agent/files.js";
import { REASON_HELP, UsageError, action, addCommonOptions, collect, dateOrDuration, intOption, keyValues, revocationReason, shortDate, table, type Context } from "./common.js";
import { resolveProfile } from "./profile.js";

/** `kms pki cert issue|get|revoke|list` (api.md 7.6, 7.8). */

interface IssueOptions {
  profile: string; project?: string; csr?: string; commonName?: string; organization?: string; ou?: string; country?: string; state?: string;
  locality?: string; dns?: string[]; ip?: string[]; email?: string[]; uri?: string[]; keyUsages?: string[]; extendedKeyUsages?: string[];
  keyAlgorithm?: string; signatureAlgorithm?: string; ttl?: string; omitRoot?: boolean; certFile?: string; keyFile?: string; chainFile?: string;
}

const readCsr = (file: string): string => {
  let pem: string;
  try {
    pem = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new UsageError(`--csr: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE REQUEST-----") && !pem.includes("-----BEGIN NEW CERTIFICATE REQUEST-----"))
    throw new UsageError(`--csr: ${file} holds no PEM certificate request`);
  return pem;
};

export const buildIssueRequest = (profileId: string, o: IssueOptions): IssueCertificateRequest => {
  if (o.csr && o.keyFile) throw new UsageError("--key-file: with --csr the private key is yours; the server never sees it");
  if (o.csr && o.keyAlgorithm) throw new UsageError("--key-algorithm: with --csr the key comes from the CSR");
  if (!o.csr && o.certFile && !o.keyFile)
    throw new UsageError("--key-file is required with --cert-file when the server generates the key (it would be lost otherwise)");
  const altNames = ([["dns_name", o.dns], ["ip_address", o.ip], ["email", o.email], ["uri", o.uri]] as const)
    .flatMap(([type, values]) => (values ?? []).map((value) => ({ type: type as SanType, value })));
  const attributes: IssueCertificateAttributes = {
    ...(o.commonName !== undefined && { commonName: o.commonName }), ...(o.organization !== undefined && { organization: o.organization }),
    ...(o.ou !== undefined && { organizationalUnit: o.ou }), ...(o.country !== undefined && { country: o.country }),
    ...(o.state !== undefined && { state: o.state }), ...(o.locality !== undefined && { locality: o.locality }),
    ...(altNames.length > 0 && { altNames }), ...(o.keyUsages && { keyUsages: o.keyUsages }),
    ...(o.extendedKeyUsages && { extendedKeyUsages: o.extendedKeyUsages }), ...(o.keyAlgorithm && { keyAlgorithm: o.keyAlgorithm }),
    ...(o.signatureAlgorithm && { signatureAlgorithm: o.signatureAlgorithm }), ...(o.ttl && { ttl: o.ttl }),
  };
  return { profileId, ...(o.csr && { csr: readCsr(o.csr) }), attributes, removeRootsFromChain: !!o.omitRoot };
};

/**
 * Writes certificate, key and chain as a set: every file goes to a temp file beside its target first (the
 * key created 0600), and only when all are written are they renamed into place, so a failure leaves the
 * old set, never a new certificate beside an old key.
 */
const writeSet = async (files: { path: string; data: string; mode: number }[]): Promise<void> => {
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(await writeTemp(f.path, f.data, { mode: f.mode }));
  } catch (e) {
    await Promise.all(temps.map((t) => unlink(t).catch(() => {})));
    throw e;
  }
  for (const [i, f] of files.entries()) await commitTemp(temps[i]!, f.path);
};

const recordDetails = (c: CertificateRecord): [string, unknown][] => [
  ["id", c.id], ["common name", c.commonName], ["status", c.status], ["serial", c.serialNumber], ["alt names", c.altNames],
  ["not before", shortDate(c.notBefore)], ["not after", shortDate(c.notAfter)], ["key algorithm", c.keyAlgorithm ?? undefined],
  ["signature algorithm", c.signatureAlgorithm ?? undefined], ["key usages", c.keyUsages], ["extended key usages", c.extendedKeyUsages],
  ["profile", c.profileId], ["ca", c.caId], ["project", c.projectId], ["revoked at", shortDate(c.revokedAt) ?? undefined],
  ["revocation reason", c.revocationReason ?? undefined], ["sha256", c.fingerprints?.sha256],
];

const issueCommand = () => {
  const cmd = addCommonOptions(new Command("issue"), { project: true })
    .description("issue a certificate from a profile: the server generates the key, or signs your --csr")
    .requiredOption("--profile <profile>", "profile id, or slug (with --project, or looked up across your projects)")
    .option("--csr <file>", "PEM certificate request to sign ('-' reads stdin); subject, SANs and key come from it")
    .option("--common-name <cn>", "subject common name")
    .option("--organization <o>", "subject organization")
    .option("--ou <ou>", "subject organizational unit")
    .option("--country <c>", "subject country")
    .option("--state <st>", "subject state or province")
    .option("--locality <l>", "subject locality")
    .option("--dns <names>", "DNS SANs, comma-separated or repeated", collect)
    .option("--ip <addresses>", "IP address SANs", collect)
    .option("--email <addresses>", "email SANs", collect)
    .option("--uri <uris>", "URI SANs", collect)
    .option("--key-usages <usages>", "key usages, e.g. digital_signature,key_encipherment", collect)
    .option("--extended-key-usages <usages>", "extended key usages, e.g. server_auth", collect)
    .addOption(new Option("--key-algorithm <alg>", "server-generated key algorithm (profile default, else RSA_2048)").choices(KEY_ALGORITHMS))
    .addOption(new Option("--signature-algorithm <alg>", "signature algorithm (default fits the CA key)").choices(SIGNATURE_ALGORITHMS))
    .option("--ttl <duration>", "lifetime, e.g. 30d, 12h, 1y (profile default, else 90d)")
    .option("--omit-root", "leave the root CA out of the chain")
    .option("--cert-file <path>", "write the certificate here (0644) instead of printing it")
    .option("--key-file <path>", "write the server-generated private key here (0600)")
    .option("--chain-file <path>", "write the CA chain here (0644)");
  cmd.action(action(async (ctx) => {
    const o = cmd.opts() as IssueOptions;
    const profile = await resolveProfile(ctx, o.profile, o.project);
    const res = await ctx.client.issueCertificate(buildIssueRequest(profile.id, o));
    const c = res.certificate;
    if (!c) throw new Error(`the server accepted the request (${res.certificateRequestId}) but issued nothing yet: status ${res.status}`);
    const files = [
      o.certFile && { path: o.certFile, data: c.certificate, mode: 0o644, what: "certificate" },
      o.keyFile && c.privateKey && { path: o.keyFile, data: c.privateKey, mode: 0o600, what: "private key" },
      o.chainFile && { path: o.chainFile, data: c.certificateChain ?? "", mode: 0o644, what: "chain" },
    ].filter((f): f is { path: string; data: string; mode: number; what: string } => !!f);
    if (files.length) await writeSet(files);
    const keyWritten = !!(o.keyFile && c.privateKey);
    if (ctx.output === "json") return ctx.json(keyWritten ? { ...res, certificate: { ...c, privateKey: undefined, privateKeyFile: o.keyFile } } : res);
    ctx.print(keyValues([
      ["certificate id", c.certificateId], ["serial", c.serialNumber], ["request id", res.certificateRequestId ?? undefined], ["status", res.status],
      ...files.map((f): [string, unknown] => [`${f.what} file`, `${f.path} (${f.mode.toString(8).padStart(4, "0")})`]),
    ]));
    const pems = [!o.certFile && c.certificate, !o.chainFile && c.certificateChain, !o.keyFile && c.privateKey].filter((p): p is string => !!p);
    if (pems.length) ctx.print("\n" + pems.map((p) => p.trim()).join("\n"));
  }));
  return cmd;
};

export const certCommand = (): Command => {
  const cmd = new Command("cert").description("certificates: issue, inspect, revoke, list the inventory");

  // A certificate id is unique across projects; --project (or KMS_PROJECT), when given, must be the certificate's.
  const inProject = async (ctx: Context, projectId: string | undefined, id: string) => {
    if (ctx.hasProject() && (await ctx.projectId()) !== projectId) throw new UsageError(`certificate ${id} is not in the project given (--project or KMS_PROJECT)`);
  };
  const getCmd = addCommonOptions(new Command("get"), { project: true })
    .description("show one certificate of the inventory")
    .argument("<id>", "certificate id")
    .option("--pem", "print the certificate and its chain (PEM) instead of the details");
  getCmd.action(action(async (ctx, id: string) => {
    if (ctx.hasProject()) await inProject(ctx, (await ctx.client.getCertificate(id)).projectId, id);
    if (getCmd.opts().pem) {
      const pem = await ctx.client.getCertificatePem(id);
      if (ctx.output === "json") return ctx.json(pem);
      return ctx.print(`${pem.certificate.trim()}\n${pem.certificateChain?.trim() ?? ""}`.trim());
    }
    const c = await ctx.client.getCertificate(id);
    if (ctx.output === "json") return ctx.json(c);
    ctx.print(keyValues(recordDetails(c)));
  }));

  const revokeCmd = addCommonOptions(new Command("revoke"), { project: true })
    .description("revoke a certificate; the CA's CRL and OCSP answers show it at once")
    .argument("<id>", "certificate id")
    .option("--reason <reason>", REASON_HELP, "UNSPECIFIED");
  revokeCmd.action(action(async (ctx, id: string) => {
    const reason = revocationReason(revokeCmd.opts().reason);
    if (ctx.hasProject()) await inProject(ctx, (await ctx.client.getCertificate(id)).projectId, id);
    const r = await ctx.client.revokeCertificate(id, reason);
    if (ctx.output === "json") return ctx.json(r);
    ctx.print(keyValues([["revoked", id], ["serial", r.serialNumber], ["revoked at", shortDate(r.revokedAt)], ["reason", reason]]));
  }));

  const listCmd = addCommonOptions(new Command("list"), { project: true })
    .description("list the certificate inventory of a project, soonest expiry first")
    .addOption(new Option("--status <status>", "only active, expired or revoked ones").choices(["active", "expired", "revoked"]))
    .option("--common-name <text>", "common name contains this")
    .option("--expiring-before <when>", "notAfter before this: ISO date or a duration from now (e.g. 30d)")
    .option("--limit <n>", "at most this many (server maximum 1000)", intOption, 100)
    .option("--offset <n>", "skip this many", intOption, 0);
  listCmd.action(action(async (ctx) => {
    const o = listCmd.opts() as { status?: string; commonName?: string; expiringBefore?: string; limit: number; offset: number };
    const r = await ctx.client.listCertificates({
      projectId: await ctx.projectId(), status: o.status, commonName: o.commonName, limit: o.limit, offset: o.offset,
      ...(o.expiringBefore && { expiringBefore: dateOrDuration("--expiring-before", o.expiringBefore) }),
    });
    if (ctx.output === "json") return ctx.json(r);
    if (r.certificates.length === 0) return ctx.print("No certificates match.");
    ctx.print(table(["id", "common name", "status", "not after", "serial"], r.certificates.map((c) => [c.id, c.commonName, c.status, shortDate(c.notAfter), c.serialNumber])));
    const filtered = o.status !== undefined || o.commonName !== undefined || o.expiringBefore !== undefined;
    ctx.print(`${r.certificates.length} shown, ${r.totalCount} ${filtered ? (r.totalCount === 1 ? "matches" : "match") : "in the project"}`);
  }));

  return cmd.addCommand(issueCommand()).addCommand(getCmd).addCommand(revokeCmd).addCommand(listCmd);
};
