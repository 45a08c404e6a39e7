/**
 * Wildcard matching for policy values. The rules, by value kind:
 *
 * - A bare `*` matches any value of that type.
 * - dns_name and common_name: `*` never crosses a dot, so a whole-label `*` matches exactly one DNS label:
 *   `*.example.com` matches `a.example.com`, not `a.b.example.com` nor `example.com`; `web-*.example.com`
 *   matches `web-1.example.com`. Case-insensitive. A requested wildcard name (`*.example.com`) is matched like
 *   any other, so it passes `*.example.com` (same set of names) but not `a.example.com`.
 * - email: `local@domain`; `*` in the local part matches any local part, the domain follows the DNS rule.
 * - ip_address: exact (canonical form, so `::1` = `0:0::1`) or a CIDR range such as `10.0.0.0/8`.
 * - uri and the other subject attributes: `*` matches any run of characters (`spiffe://example.org/*`).
 *   Case-sensitive, except country codes.
 */
import type { SanType, SubjectAttributeType } from "./algorithms.js";
import { canonicalIp, cidrContains } from "./ip.js";

export type MatchKind = "dns" | "email" | "ip" | "glob" | "glob-nocase";

export const matchKindOfSan = (t: SanType): MatchKind => (t === "dns_name" ? "dns" : t === "email" ? "email" : t === "ip_address" ? "ip" : "glob");
export const matchKindOfSubject = (t: SubjectAttributeType): MatchKind => (t === "common_name" ? "dns" : t === "country" ? "glob-nocase" : "glob");

const regexCache = new Map<string, RegExp>();
const compile = (pattern: string, star: string, flags: string): RegExp => {
  const key = `${star}\0${flags}\0${pattern}`;
  let re = regexCache.get(key);
  if (!re) {
    re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join(star)}$`, flags);
    if (regexCache.size < 4096) regexCache.set(key, re);
  }
  return re;
};

export const matchesPattern = (kind: MatchKind, pattern: string, value: string): boolean => {
  if (pattern === "*") return true;
  switch (kind) {
    case "dns":
      return pattern.toLowerCase() === value.toLowerCase() || (pattern.includes("*") && compile(pattern, "[^.]+", "i").test(value));
    case "email": {
      const pa = pattern.lastIndexOf("@");
      const va = value.lastIndexOf("@");
      if (pa < 0 || va < 0) return pattern === value;
      const local = pattern.slice(0, pa);
      const localOk = local === "*" || (local.includes("*") ? compile(local, "[^@]*", "").test(value.slice(0, va)) : local === value.slice(0, va));
      return localOk && matchesPattern("dns", pattern.slice(pa + 1), value.slice(va + 1));
    }
    case "ip":
      if (pattern.includes("/")) return cidrContains(pattern, value);
      return (canonicalIp(pattern) ?? pattern) === (canonicalIp(value) ?? value);
    case "glob":
      return pattern === value || (pattern.includes("*") && compile(pattern, ".*", "s").test(value));
    case "glob-nocase":
      return pattern.toLowerCase() === value.toLowerCase() || (pattern.includes("*") && compile(pattern, ".*", "is").test(value));
  }
};
