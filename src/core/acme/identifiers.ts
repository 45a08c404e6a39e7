/**
 * Order identifiers (RFC 8555 7.1.3 dns, RFC 8738 ip): checked and put in canonical form, so the names
 * of an order, its authorizations and the finalize CSR compare as plain strings.
 */
import { canonicalIp, isIpAddress } from "../pki/ip.js";
import { dnsNameProblem } from "../pki/san.js";
import type { ParsedCsr } from "../pki/csr.js";
import { problem, type Identifier } from "./problem.js";

/** Let's Encrypt allows 100 names per certificate; more is almost certainly a mistake. */
export const MAX_IDENTIFIERS = 100;

export const canonicalIdentifier = (raw: unknown, index: number): Identifier => {
  if (typeof raw !== "object" || raw === null) throw problem("malformed", `identifiers[${index}] must be an object {type, value}`);
  const { type, value } = raw as Record<string, unknown>;
  if (typeof value !== "string" || value === "") throw problem("malformed", `identifiers[${index}].value must be a non-empty string`);
  if (type === "dns") {
    const v = value.toLowerCase().replace(/\.$/, "");
    const why = dnsNameProblem(v);
    if (why) throw problem("rejectedIdentifier", `${JSON.stringify(value)}: ${why}`, { identifier: { type: "dns", value } });
    if (v.indexOf("*", 1) !== -1) throw problem("rejectedIdentifier", `${JSON.stringify(value)}: a wildcard may only be the whole leftmost label`, { identifier: { type: "dns", value } });
    return { type: "dns", value: v };
  }
  if (type === "ip") {
    if (!isIpAddress(value)) throw problem("rejectedIdentifier", `${JSON.stringify(value)} is not an IPv4 or IPv6 address`, { identifier: { type: "ip", value } });
    return { type: "ip", value: canonicalIp(value) ?? value };
  }
  throw problem("unsupportedIdentifier", `identifiers[${index}].type ${JSON.stringify(type)} is not supported (dns and ip are)`);
};

/** The checked, de-duplicated identifiers of a newOrder payload. */
export const orderIdentifiers = (raw: unknown): Identifier[] => {
  if (!Array.isArray(raw) || raw.length === 0) throw problem("malformed", "identifiers must be a non-empty array");
  if (raw.length > MAX_IDENTIFIERS) throw problem("rejectedIdentifier", `At most ${MAX_IDENTIFIERS} identifiers per order`);
  const seen = new Map<string, Identifier>();
  raw.forEach((r, i) => { const id = canonicalIdentifier(r, i); seen.set(`${id.type}:${id.value}`, id); });
  return [...seen.values()].sort((a, b) => (a.type + a.value).localeCompare(b.type + b.value));
};

export const keyOf = (id: Identifier) => `${id.type}:${id.value}`;

/**
 * The identifiers a CSR asks for: its dNSName and iPAddress SANs, plus the common name (RFC 8555 7.4: the CSR
 * must name exactly the order's identifiers; a CN is one of them or the CSR is refused).
 */
export const csrIdentifiers = (csr: ParsedCsr): Set<string> => {
  const out = new Set<string>();
  for (const s of csr.sans) {
    if (s.type === "dns_name") out.add(`dns:${s.value.toLowerCase().replace(/\.$/, "")}`);
    else if (s.type === "ip_address") out.add(`ip:${canonicalIp(s.value) ?? s.value}`);
    else out.add(`${s.type}:${s.value}`);
  }
  const cn = csr.subject.commonName;
  if (cn) out.add(isIpAddress(cn) ? `ip:${canonicalIp(cn) ?? cn}` : `dns:${cn.toLowerCase().replace(/\.$/, "")}`);
  return out;
};
