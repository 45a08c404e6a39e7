/**
 * The certificate policy engine: judges CertificateContents against a normalised CertificatePolicy and
 * reports EVERY violated rule at once (PolicyViolationError.details), so a client fixes its request in one go.
 *
 * Semantics (api.md 7.4, and where it is silent, ours):
 * - required: each required pattern must be matched by at least one requested value of that type.
 * - allowed: when given, every requested value must match one entry.
 * - denied: no requested value may match an entry.
 * - Several rules for one type are merged (lists united).
 * - Anything the policy does not mention is denied: a subject attribute or SAN type with no rule, key usages
 *   when there is no keyUsages rule, EKUs when there is no extendedKeyUsages rule. CA:true is always denied
 *   (policies govern leaves; CAs come from the CA routes).
 * - A rule with only `denied` (or only `required`) permits other values of its type.
 * - algorithms.signature / keyAlgorithm and validity.max restrict when present; when absent, any supported
 *   algorithm and any validity up to the CA's notAfter is fine (every certificate has an algorithm and a
 *   lifetime, so "not mentioned = denied" would make such policies unusable).
 * - Values must also be well-formed: an IP address as a dns_name, a non-ASCII DNS name, a three-letter
 *   country are violations too.
 * Wildcards: see policy-match.ts.
 */
import { PolicyViolationError } from "../errors.js";
import { SAN_TYPES, SUBJECT_ATTRIBUTE_TYPES } from "./algorithms.js";
import type { SanType, SubjectAttributeType } from "./algorithms.js";
import type { CertificateContents } from "./contents.js";
import { matchKindOfSan, matchKindOfSubject, matchesPattern } from "./policy-match.js";
import type { MatchKind } from "./policy-match.js";
import { addPolicyDuration, parsePolicyDuration } from "./policy-rules.js";
import type { CertificatePolicy, ValueRule } from "./policy-rules.js";
import { SUBJECT_FIELDS, subjectFieldOfPolicyType, validateSubject } from "./name.js";
import { canonicalSan, sanProblem } from "./san.js";
import { BadRequestError } from "../errors.js";

export type PolicyRuleKind = "required" | "allowed" | "denied" | "not_permitted" | "invalid" | "max";

export interface PolicyViolation {
  /** `subject.common_name`, `sans.dns_name`, `keyUsages`, `extendedKeyUsages`, `algorithms.signature`, `algorithms.keyAlgorithm`, `validity`, `basicConstraints.isCA`. */
  readonly field: string;
  readonly rule: PolicyRuleKind;
  readonly value?: string;
  readonly message: string;
}

const merge = (rules: readonly ValueRule[]): ValueRule | undefined => {
  if (rules.length === 0) return undefined;
  const pick = (k: keyof ValueRule): string[] | undefined => {
    const lists = rules.map((r) => r[k]).filter((l): l is readonly string[] => l !== undefined);
    return lists.length ? lists.flat() : undefined;
  };
  const allowed = pick("allowed");
  const required = pick("required");
  const denied = pick("denied");
  return { ...(allowed && { allowed }), ...(required && { required }), ...(denied && { denied }) };
};

const q = JSON.stringify;

/** A lifetime as days, hours, minutes and seconds, leaving out zero parts: "90 days", "90 days 1 s". */
const lifetimeText = (ms: number): string => {
  const s = Math.round(ms / 1000);
  const parts = [[Math.floor(s / 86_400), " days"], [Math.floor(s / 3600) % 24, " h"], [Math.floor(s / 60) % 60, " min"], [s % 60, " s"]] as const;
  const text = parts.filter(([n]) => n > 0).map(([n, unit]) => (n === 1 && unit === " days" ? "1 day" : `${n}${unit}`)).join(" ");
  return text || "0 s";
};

/** Checks one type's values against its (merged) rule; appends violations. */
const judgeValues = (out: PolicyViolation[], field: string, what: string, kind: MatchKind, rule: ValueRule | undefined, values: readonly string[]): void => {
  if (!rule) {
    for (const v of values) out.push({ field, rule: "not_permitted", value: v, message: `${field}: ${q(v)} is not permitted (the policy has no rule for ${what})` });
    return;
  }
  for (const r of rule.required ?? []) {
    if (!values.some((v) => matchesPattern(kind, r, v))) {
      const given = values.length ? `none of ${values.map((v) => q(v)).join(", ")} matches` : "none given";
      out.push({ field, rule: "required", value: r, message: `${field}: the policy requires ${r === "*" ? `a ${what}` : q(r)}, ${given}` });
    }
  }
  for (const v of values) {
    const denied = rule.denied?.find((d) => matchesPattern(kind, d, v));
    if (denied !== undefined) out.push({ field, rule: "denied", value: v, message: `${field}: ${q(v)} is denied (matches ${q(denied)})` });
    else if (rule.allowed && !rule.allowed.some((a) => matchesPattern(kind, a, v))) {
      out.push({ field, rule: "allowed", value: v, message: `${field}: ${q(v)} is not allowed (allowed: ${rule.allowed.join(", ")})` });
    }
  }
};

export const evaluatePolicy = (policy: CertificatePolicy, c: CertificateContents): PolicyViolation[] => {
  const out: PolicyViolation[] = [];

  for (const type of SUBJECT_ATTRIBUTE_TYPES) {
    const field = subjectFieldOfPolicyType(type);
    const value = c.subject[field];
    const values = value ? [value] : [];
    const f = `subject.${type}`;
    if (value) {
      try {
        validateSubject({ [field]: value }, "subject");
      } catch (e) {
        if (!(e instanceof BadRequestError)) throw e;
        out.push({ field: f, rule: "invalid", value, message: `${f}: ${e.message.replace(/^subject\.\w+: /, "")}` });
        continue;
      }
    }
    judgeValues(out, f, `subject attribute ${type}`, matchKindOfSubject(type), merge(policy.subject?.filter((r) => r.type === type) ?? []), values);
  }

  for (const type of SAN_TYPES) {
    const f = `sans.${type}`;
    const values: string[] = [];
    for (const san of c.sans.filter((s) => s.type === type)) {
      const problem = sanProblem(san);
      if (problem) out.push({ field: f, rule: "invalid", value: san.value, message: `${f}: ${q(san.value)}: ${problem}` });
      else values.push(canonicalSan(san).value);
    }
    judgeValues(out, f, `${type} SANs`, matchKindOfSan(type), merge(policy.sans?.filter((r) => r.type === type) ?? []), values);
  }
  for (const san of c.sans) {
    if (!(SAN_TYPES as readonly string[]).includes(san.type)) {
      out.push({ field: "sans", rule: "invalid", value: String(san.type), message: `sans: unknown SAN type ${q(san.type)}` });
    }
  }

  judgeValues(out, "keyUsages", "key usages", "glob", policy.keyUsages, c.keyUsages);
  judgeValues(out, "extendedKeyUsages", "extended key usages", "glob", policy.extendedKeyUsages, c.extendedKeyUsages);

  for (const u of c.unsupported ?? []) {
    out.push({ field: u.field, rule: "not_permitted", value: u.value, message: `${u.field}: ${q(u.value)} is not supported, so no policy can permit it` });
  }

  if (c.isCA) {
    out.push({ field: "basicConstraints.isCA", rule: "not_permitted", value: "true", message: "basicConstraints.isCA: CA certificates cannot be issued under a certificate policy" });
  }

  const sigs = policy.algorithms?.signature;
  if (sigs && !sigs.includes(c.signatureAlgorithm)) {
    out.push({ field: "algorithms.signature", rule: "allowed", value: c.signatureAlgorithm, message: `algorithms.signature: ${c.signatureAlgorithm} is not allowed (allowed: ${sigs.join(", ")})` });
  }
  if (c.keyAlgorithm === undefined) {
    const d = c.keyDescription ?? "unknown key";
    out.push({ field: "algorithms.keyAlgorithm", rule: "invalid", value: d, message: `algorithms.keyAlgorithm: ${d} is not a supported key algorithm` });
  } else {
    const keys = policy.algorithms?.keyAlgorithm;
    if (keys && !keys.includes(c.keyAlgorithm)) {
      out.push({ field: "algorithms.keyAlgorithm", rule: "allowed", value: c.keyAlgorithm, message: `algorithms.keyAlgorithm: ${c.keyAlgorithm} is not allowed (allowed: ${keys.join(", ")})` });
    }
  }

  const max = policy.validity?.max;
  if (max) {
    const nb = +c.notBefore;
    const na = +c.notAfter;
    const limit = addPolicyDuration(nb, parsePolicyDuration(max));
    if (na > limit) {
      // Exact, not rounded: "90 days exceeds 90d" for a lifetime of 90 days and a second would read as nonsense.
      const asked = lifetimeText(na - nb);
      out.push({ field: "validity", rule: "max", value: asked, message: `validity: ${asked} exceeds the policy maximum ${max} (notAfter must be at most ${new Date(limit).toISOString()})` });
    }
  }
  return out;
};

/** evaluatePolicy, throwing PolicyViolationError (message lists every violation; `details` is the array). */
export const checkPolicy = (policy: CertificatePolicy, c: CertificateContents): void => {
  const violations = evaluatePolicy(policy, c);
  if (violations.length) {
    throw new PolicyViolationError(
      `The request violates the certificate policy (${violations.length} rule${violations.length > 1 ? "s" : ""}): ${violations.map((v) => v.message).join("; ")}`,
      violations,
    );
  }
};

