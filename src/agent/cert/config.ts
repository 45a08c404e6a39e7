import { statSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { DEFAULT_ADDRESS, kmsAddressSchema } from "../../client/address.js";
import { durationSchema, parseDuration } from "../../config/duration.js";
import { formatPath } from "../../config/yaml.js";
import type { PathProblem, PathSegment } from "../../config/yaml.js";
import { KEY_ALGORITHMS, SIGNATURE_ALGORITHMS } from "../../client/types.js";
import { AuthConfig } from "../auth/index.js";
import { parseMode } from "../files.js";
import { RetryStrategyConfig } from "../retry.js";

/**
 * The certificate agent's configuration: seed 001's YAML key for key, with the seed's defaults, plus the
 * keys newer upstream agents accept (`lifecycle.failure-retry-interval`, `lifecycle.max-failure-retries`,
 * `certificate-id`, inline `csr`) and ours (`key-source`). Objects are strict: a misspelt key is an
 * error, never a silently disabled renewal.
 */

export const DEFAULT_STATUS_CHECK_MS = 10_000;
export const DEFAULT_MAX_FAILURE_RETRIES = 10;
export const DEFAULT_HOOK_TIMEOUT_S = 30;
export const DEFAULT_MODE = 0o600;

// Request/policy spelling first; the legacy camelCase spelling is accepted and normalised (api.md 7.1).
export const KEY_USAGES: Record<string, string> = {
  digital_signature: "digital_signature", digitalSignature: "digital_signature",
  key_encipherment: "key_encipherment", keyEncipherment: "key_encipherment",
  non_repudiation: "non_repudiation", nonRepudiation: "non_repudiation",
  data_encipherment: "data_encipherment", dataEncipherment: "data_encipherment",
  key_agreement: "key_agreement", keyAgreement: "key_agreement",
  key_cert_sign: "key_cert_sign", keyCertSign: "key_cert_sign",
  crl_sign: "crl_sign", cRLSign: "crl_sign",
  encipher_only: "encipher_only", encipherOnly: "encipher_only",
  decipher_only: "decipher_only", decipherOnly: "decipher_only",
};
// Seed 001 writes `timestamping`; the API writes `time_stamping`.
export const EXTENDED_KEY_USAGES: Record<string, string> = {
  server_auth: "server_auth", serverAuth: "server_auth",
  client_auth: "client_auth", clientAuth: "client_auth",
  code_signing: "code_signing", codeSigning: "code_signing",
  email_protection: "email_protection", emailProtection: "email_protection",
  timestamping: "time_stamping", time_stamping: "time_stamping", timeStamping: "time_stamping",
  ocsp_signing: "ocsp_signing", ocspSigning: "ocsp_signing",
};

const enumOf = (table: Record<string, string>) =>
  z.string().transform((s, ctx) => {
    const v = table[s];
    if (v === undefined) {
      ctx.addIssue({ code: "custom", message: `must be one of ${[...new Set(Object.values(table))].map((x) => JSON.stringify(x)).join(", ")}` });
      return z.NEVER;
    }
    return v;
  });

export const modeSchema = z.union([z.string(), z.number()], { error: 'expected an octal permission such as "0644"' }).transform((v, ctx) => {
  const m = parseMode(v);
  if (m === undefined) {
    ctx.addIssue({ code: "custom", message: `invalid permission ${JSON.stringify(v)}: expected octal digits such as "0644"` });
    return z.NEVER;
  }
  return m;
});

const nonEmpty = z.string().trim().min(1, "must not be empty");

const FileSpec = z.strictObject({ path: nonEmpty.optional(), permission: modeSchema.default(DEFAULT_MODE) });
const ChainSpec = FileSpec.extend({ "omit-root": z.boolean().default(true) }).strict();

const HookSpec = z.strictObject({
  command: nonEmpty,
  // Seconds, as the seed writes it; a duration string ("45s") is accepted too.
  // Only the number branch is in seconds: durationSchema already yields milliseconds.
  timeout: z
    .union([z.number().positive().transform((seconds) => seconds * 1000), durationSchema], { error: "expected seconds (e.g. 30) or a duration string" })
    .optional(),
});

export const CertificateEntry = z.strictObject({
  "profile-name": nonEmpty.optional(),
  "project-slug": nonEmpty.optional(),
  "certificate-id": nonEmpty.optional(),
  "csr-path": nonEmpty.optional(),
  csr: nonEmpty.optional(),
  "key-source": z.enum(["server", "local"]).default("server"),
  attributes: z
    .strictObject({
      "common-name": nonEmpty.optional(),
      "alt-names": z.array(nonEmpty).optional(),
      ttl: durationSchema.optional(),
      "key-algorithm": z.enum(KEY_ALGORITHMS).optional(),
      "signature-algorithm": z.enum(SIGNATURE_ALGORITHMS).optional(),
      "key-usages": z.array(enumOf(KEY_USAGES)).optional(),
      "extended-key-usages": z.array(enumOf(EXTENDED_KEY_USAGES)).optional(),
    })
    .default({}),
  lifecycle: z
    .strictObject({
      "renew-before-expiry": durationSchema.optional(),
      "status-check-interval": durationSchema.default(DEFAULT_STATUS_CHECK_MS),
      "failure-retry-interval": durationSchema.optional(),
      "max-failure-retries": z.number().int().min(0).default(DEFAULT_MAX_FAILURE_RETRIES),
    })
    .default({ "status-check-interval": DEFAULT_STATUS_CHECK_MS, "max-failure-retries": DEFAULT_MAX_FAILURE_RETRIES }),
  "file-output": z.strictObject({
    "private-key": FileSpec.optional(),
    certificate: FileSpec,
    chain: ChainSpec.optional(),
  }),
  "post-hooks": z
    .strictObject({ "on-issuance": HookSpec.optional(), "on-renewal": HookSpec.optional(), "on-failure": HookSpec.optional() })
    .default({}),
});
export type CertificateEntry = z.output<typeof CertificateEntry>;

export const KmsSection = z.strictObject({
  address: kmsAddressSchema.default(DEFAULT_ADDRESS),
  "retry-strategy": RetryStrategyConfig.optional(),
});

export const CertAgentConfig = z.strictObject({
  version: z.literal("v1", { error: 'only "v1" is supported' }).optional(),
  kms: KmsSection.default({ address: DEFAULT_ADDRESS }),
  auth: AuthConfig,
  certificates: z.array(CertificateEntry).min(1, "list at least one certificate"),
});
export type CertAgentConfig = z.output<typeof CertAgentConfig>;

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Raw) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v : undefined);
const tryDuration = (v: unknown): number | undefined => {
  if (typeof v !== "string") return undefined;
  try {
    return parseDuration(v);
  } catch {
    return undefined;
  }
};
const exists = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * Checks that need more than one key or the filesystem. Works on the raw document so it runs even when
 * the schema failed elsewhere: the operator sees every problem at once.
 */
export const checkCertificates = (rawCerts: unknown): PathProblem[] => {
  const problems: PathProblem[] = [];
  if (!Array.isArray(rawCerts)) return problems;
  // Every file the agent writes, by absolute path (relative paths start from the working directory, as the
  // agent opens them), with what writes it: two writers of one file would replace each other's content forever.
  const written = new Map<string, string>();
  const claim = (file: string | undefined, path: PathSegment[], what = formatPath(path)): boolean => {
    if (!file) return true;
    const abs = resolve(file);
    const prev = written.get(abs);
    if (prev === undefined) return written.set(abs, what), true;
    problems.push({ path, message: `writes the same file as ${prev} (${abs})`, atKey: true });
    return false;
  };
  const reads: { file: string; path: PathSegment[] }[] = [];
  rawCerts.forEach((rc, i) => {
    const c = obj(rc);
    if (!c) return;
    const at = (...p: (string | number)[]) => ["certificates", i, ...p];
    const out = obj(c["file-output"]);
    const keyPath = str(obj(out?.["private-key"])?.path);
    const certPath = str(obj(out?.certificate)?.path);
    const csrPath = str(c["csr-path"]);
    const csr = str(c.csr);
    const certId = str(c["certificate-id"]);
    const lifecycle = obj(c.lifecycle);
    const attrs = obj(c.attributes);

    if (out && obj(out.certificate) && !certPath) problems.push({ path: at("file-output", "certificate", "path"), message: "is required", atKey: true });
    claim(keyPath, at("file-output", "private-key", "path"));
    claim(str(obj(out?.chain)?.path), at("file-output", "chain", "path"));
    // The state file sits beside the certificate unless --state-dir moves it (then its name is unique); a
    // certificate path already in conflict says it once.
    if (claim(certPath, at("file-output", "certificate", "path")) && certPath) claim(`${certPath}.kms-state.json`, at("file-output", "certificate", "path"), `the state file of certificates[${i}]`);
    if (csrPath) reads.push({ file: csrPath, path: at("csr-path") });
    if (certId) {
      for (const k of ["profile-name", "project-slug", "csr-path", "csr", "attributes"]) {
        if (c[k] !== undefined) problems.push({ path: at(k), message: `cannot be used together with certificate-id`, atKey: true });
      }
    } else {
      for (const k of ["profile-name", "project-slug"]) if (!str(c[k]) && c[k] === undefined) problems.push({ path: at(k), message: "is required (or set certificate-id)", atKey: true });
    }
    if (csrPath && csr) problems.push({ path: at("csr"), message: "use either csr or csr-path, not both", atKey: true });
    if ((csrPath || csr) && keyPath) {
      problems.push({ path: at("file-output", "private-key", "path"), message: "cannot be used with csr-path/csr: the key belongs to whoever made the CSR" });
    }
    if ((csrPath || csr) && c["key-source"] === "local") problems.push({ path: at("key-source"), message: "local key generation cannot be combined with a CSR", atKey: true });
    if (!csrPath && !csr && !certId && out && !keyPath) {
      problems.push({ path: at("file-output", "private-key"), message: "private-key.path is required unless csr-path is set", atKey: true });
    }
    if (csrPath && !exists(csrPath)) problems.push({ path: at("csr-path"), message: `CSR file ${JSON.stringify(csrPath)} does not exist` });

    const ttl = tryDuration(attrs?.ttl);
    const before = tryDuration(lifecycle?.["renew-before-expiry"]);
    if (ttl !== undefined && before !== undefined && before >= ttl) {
      problems.push({ path: at("lifecycle", "renew-before-expiry"), message: `${lifecycle?.["renew-before-expiry"]} must be shorter than attributes.ttl (${attrs?.ttl}), or the certificate would renew at every check` });
    }
  });
  for (const r of reads) {
    const writer = written.get(resolve(r.file));
    if (writer) problems.push({ path: r.path, message: `is the file ${writer} writes (${resolve(r.file)}): the CSR would be overwritten`, atKey: true });
  }
  return problems;
};
