/**
 * Subject alternative names: syntax checks and canonical forms shared by the policy engine (which reports a
 * problem as a violation) and the encoder (which refuses to write it). GeneralName tags: rfc822Name [1],
 * dNSName [2], uniformResourceIdentifier [6], iPAddress [7] (RFC 5280 4.2.1.6); all IA5String except the IP.
 */
import { isIa5String } from "../../crypto/der/writer.js";
import type { SanType } from "./algorithms.js";
import { canonicalIp, isIpAddress } from "./ip.js";

export interface SubjectAltName {
  readonly type: SanType;
  readonly value: string;
}

const LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

/** Why `value` is not a usable dNSName, or undefined. A leftmost `*` label (wildcard certificate) is allowed. */
export const dnsNameProblem = (value: string): string | undefined => {
  if (value === "") return "empty DNS name";
  if (isIpAddress(value)) return "an IP address is not a DNS name (use an ip_address SAN)";
  if (!isIa5String(value)) return "DNS names must be ASCII (use the punycode A-label form)";
  const name = value.endsWith(".") ? value.slice(0, -1) : value;
  if (name.length > 253) return "DNS name longer than 253 characters";
  const labels = name.split(".");
  for (let i = 0; i < labels.length; i++) {
    if (i === 0 && labels[i] === "*" && labels.length > 1) continue;
    if (!LABEL.test(labels[i])) return `invalid DNS label ${JSON.stringify(labels[i])}`;
  }
  return undefined;
};

export const emailProblem = (value: string): string | undefined => {
  if (!isIa5String(value)) return "email addresses must be ASCII (SmtpUTF8Mailbox is not supported)";
  const at = value.lastIndexOf("@");
  if (at <= 0 || at === value.length - 1) return "not an email address (local@domain)";
  const domain = value.slice(at + 1);
  if (domain.includes("*")) return "an email domain cannot be a wildcard";
  const domainProblem = dnsNameProblem(domain);
  return domainProblem ? `email domain: ${domainProblem}` : undefined;
};

export const uriProblem = (value: string): string | undefined => {
  if (!isIa5String(value)) return "URIs must be ASCII (percent-encode other characters)";
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(value)) return "not an absolute URI (scheme:rest, no spaces)";
  return undefined;
};

/** Why this SAN cannot go into a certificate, or undefined. */
export const sanProblem = (san: SubjectAltName): string | undefined => {
  switch (san.type) {
    case "dns_name": return dnsNameProblem(san.value);
    case "ip_address": return isIpAddress(san.value) ? undefined : "not an IPv4 or IPv6 address";
    case "email": return emailProblem(san.value);
    case "uri": return uriProblem(san.value);
    default: return `unsupported SAN type ${JSON.stringify((san as { type: unknown }).type)}`;
  }
};

/** Canonical form: DNS names and email domains lowercased, IPs in RFC 5952 text. Call only on valid SANs. */
export const canonicalSan = (san: SubjectAltName): SubjectAltName => {
  switch (san.type) {
    case "dns_name": return { type: san.type, value: san.value.toLowerCase() };
    case "ip_address": return { type: san.type, value: canonicalIp(san.value) ?? san.value };
    case "email": {
      const at = san.value.lastIndexOf("@");
      return { type: san.type, value: san.value.slice(0, at + 1) + san.value.slice(at + 1).toLowerCase() };
    }
    default: return san;
  }
};
