/**
 * Certificate policies (api.md 7.4): the stored shape, its validation/normalisation, and `validity.max`.
 *
 * `validity.max` is `<digits><unit>` with unit d (days of 24 h), h (hours), m (MONTHS, calendar) or
 * y (calendar years), as Infisical's policy UI uses them. Note the clash with Go durations, where `m` is
 * minutes: a request's `ttl` is parsed by the duration parser, a policy's `validity.max` only here.
 * Calendar arithmetic clamps to the month's end: Jan 31 + 1m = Feb 28/29.
 */
import { BadRequestError } from "../errors.js";
import {
  SAN_TYPES, SUBJECT_ATTRIBUTE_TYPES, normalizeExtendedKeyUsages, normalizeKeyUsages, requireKeyAlgorithm, requireSignatureAlgorithm,
} from "./algorithms.js";
import { ipPatternProblem } from "./ip.js";
import type { ExtendedKeyUsage, KeyAlgorithm, KeyUsage, SanType, SignatureAlgorithm, SubjectAttributeType } from "./algorithms.js";

export interface ValueRule<T extends string = string> {
  readonly allowed?: readonly T[];
  readonly required?: readonly T[];
  readonly denied?: readonly T[];
}

/** A normalised policy: algorithm and usage names in request spelling (RSA-SHA256, EC_prime256v1, digital_signature). */
export interface CertificatePolicy {
  readonly subject?: ReadonlyArray<{ readonly type: SubjectAttributeType } & ValueRule>;
  readonly sans?: ReadonlyArray<{ readonly type: SanType } & ValueRule>;
  /** `*` in a list stands for every usage. */
  readonly keyUsages?: ValueRule<KeyUsage | "*">;
  readonly extendedKeyUsages?: ValueRule<ExtendedKeyUsage | "*">;
  readonly algorithms?: { readonly signature?: readonly SignatureAlgorithm[]; readonly keyAlgorithm?: readonly KeyAlgorithm[] };
  readonly validity?: { readonly max?: string };
}

export interface PolicyDuration {
  readonly amount: number;
  readonly unit: "d" | "h" | "m" | "y";
}

export const parsePolicyDuration = (text: string, field = "validity.max"): PolicyDuration => {
  const m = /^(\d{1,6})([dhmy])$/.exec(text);
  if (!m) throw new BadRequestError(`${field}: ${JSON.stringify(text)} is not <digits><d|h|m|y> (d days, h hours, m months, y years), e.g. "90d"`);
  const amount = Number(m[1]);
  if (amount === 0) throw new BadRequestError(`${field}: must be greater than zero`);
  return { amount, unit: m[2] as PolicyDuration["unit"] };
};

/** `from` + duration, in ms; months and years are calendar steps in UTC. */
export const addPolicyDuration = (from: number, d: PolicyDuration): number => {
  if (d.unit === "h") return from + d.amount * 3_600_000;
  if (d.unit === "d") return from + d.amount * 86_400_000;
  const t = new Date(from);
  const months = d.unit === "m" ? d.amount : d.amount * 12;
  const y = t.getUTCFullYear();
  const mo = t.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(y, mo + 1, 0)).getUTCDate();
  return Date.UTC(y, mo, Math.min(t.getUTCDate(), lastDay), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds(), t.getUTCMilliseconds());
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const stringList = (v: unknown, field: string): string[] | undefined => {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s === "")) throw new BadRequestError(`${field}: must be a list of non-empty strings`);
  return v as string[];
};

const valueRule = <T extends string>(v: unknown, field: string, normalize: (l: string[], f: string) => T[]): ValueRule<T> => {
  if (!isObject(v)) throw new BadRequestError(`${field}: must be an object with allowed, required and/or denied`);
  const out: { allowed?: T[]; required?: T[]; denied?: T[] } = {};
  for (const k of ["allowed", "required", "denied"] as const) {
    const l = stringList(v[k], `${field}.${k}`);
    if (l) out[k] = normalize(l, `${field}.${k}`);
  }
  if (!out.allowed && !out.required && !out.denied) throw new BadRequestError(`${field}: needs at least one of allowed, required, denied`);
  return out;
};

const typedRules = <T extends string>(v: unknown, field: string, types: readonly T[], checkIps: boolean): Array<{ type: T } & ValueRule> | undefined => {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new BadRequestError(`${field}: must be a list of rules`);
  return v.map((r, i) => {
    const f = `${field}[${i}]`;
    if (!isObject(r) || typeof r.type !== "string" || !(types as readonly string[]).includes(r.type)) {
      throw new BadRequestError(`${f}.type: must be one of ${types.join(", ")}`);
    }
    // An IP value that is no address or range could never match: refuse it here rather than deny every request.
    const check = checkIps && r.type === "ip_address" ? (l: string[], lf: string) => {
      l.forEach((p, j) => { const why = ipPatternProblem(p); if (why) throw new BadRequestError(`${lf}[${j}]: ${why}`); });
      return l;
    } : (l: string[]) => l;
    return { type: r.type as T, ...valueRule(r, f, check) };
  });
};

const usageList = <T extends string>(normalize: (l: readonly string[], f: string) => T[]) => (l: string[], f: string): Array<T | "*"> =>
  l.includes("*") ? ["*", ...normalize(l.filter((x) => x !== "*"), f)] : normalize(l, f);

/**
 * Validates a policy body (api.md 7.4 shape) and normalises it: both spellings of key usages, EKUs and
 * algorithms are accepted and stored in request spelling. BadRequestError names the first bad field.
 * `written`: the body is being created or changed, so checks added since older policies were stored apply
 * (IP values must be addresses or ranges); a stored policy is read as it was accepted.
 */
export const normalizePolicy = (input: unknown, { written = false }: { written?: boolean } = {}): CertificatePolicy => {
  if (!isObject(input)) throw new BadRequestError("policy: must be an object");
  const out: {
    subject?: Array<{ type: SubjectAttributeType } & ValueRule>; sans?: Array<{ type: SanType } & ValueRule>;
    keyUsages?: ValueRule<KeyUsage | "*">; extendedKeyUsages?: ValueRule<ExtendedKeyUsage | "*">;
    algorithms?: { signature?: SignatureAlgorithm[]; keyAlgorithm?: KeyAlgorithm[] }; validity?: { max?: string };
  } = {};
  const subject = typedRules(input.subject, "subject", SUBJECT_ATTRIBUTE_TYPES, false);
  if (subject) out.subject = subject;
  const sans = typedRules(input.sans, "sans", SAN_TYPES, written);
  if (sans) out.sans = sans;
  if (input.keyUsages != null) out.keyUsages = valueRule(input.keyUsages, "keyUsages", usageList(normalizeKeyUsages));
  if (input.extendedKeyUsages != null) out.extendedKeyUsages = valueRule(input.extendedKeyUsages, "extendedKeyUsages", usageList(normalizeExtendedKeyUsages));
  if (input.algorithms != null) {
    if (!isObject(input.algorithms)) throw new BadRequestError("algorithms: must be an object");
    const sig = stringList(input.algorithms.signature, "algorithms.signature");
    const key = stringList(input.algorithms.keyAlgorithm, "algorithms.keyAlgorithm");
    if (sig?.length === 0) throw new BadRequestError("algorithms.signature: needs at least one algorithm");
    if (key?.length === 0) throw new BadRequestError("algorithms.keyAlgorithm: needs at least one algorithm");
    out.algorithms = {
      ...(sig && { signature: sig.map((s, i) => requireSignatureAlgorithm(s, `algorithms.signature[${i}]`)) }),
      ...(key && { keyAlgorithm: key.map((s, i) => requireKeyAlgorithm(s, `algorithms.keyAlgorithm[${i}]`)) }),
    };
  }
  if (input.validity != null) {
    if (!isObject(input.validity)) throw new BadRequestError("validity: must be an object");
    const max = input.validity.max;
    if (max !== undefined && max !== null) {
      if (typeof max !== "string") throw new BadRequestError("validity.max: must be a string such as \"90d\"");
      parsePolicyDuration(max);
      out.validity = { max };
    } else out.validity = {};
  }
  return out;
};
