import { BlockList, isIP } from "node:net";
import { BadRequestError } from "../errors.js";

/** A trusted-IP entry as Infisical stores and echoes it: the CIDR split into address, prefix and family. */
export interface TrustedIp { ipAddress: string; type: "ipv4" | "ipv6"; prefix?: number }

export const ANYWHERE: TrustedIp[] = [
  { ipAddress: "0.0.0.0", type: "ipv4", prefix: 0 },
  { ipAddress: "::", type: "ipv6", prefix: 0 },
];

export const parseTrustedIps = (entries: { ipAddress: string }[], field: string): TrustedIp[] =>
  entries.map(({ ipAddress }, i) => {
    const [addr, prefixText, ...rest] = ipAddress.trim().split("/");
    const family = isIP(addr ?? "");
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? undefined : Number(prefixText);
    if (!family || rest.length || (prefix !== undefined && (!/^\d+$/.test(prefixText!) || prefix > max)))
      throw new BadRequestError(`${field}[${i}].ipAddress: "${ipAddress}" is not an IP address or CIDR range`);
    return { ipAddress: addr!, type: family === 4 ? "ipv4" : "ipv6", ...(prefix !== undefined ? { prefix } : {}) };
  });

/** Client addresses arrive as IPv4-mapped IPv6 (::ffff:1.2.3.4) on dual-stack sockets. */
const normalise = (ip: string): string => (ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip);

export const ipAllowed = (ip: string, trusted: TrustedIp[]): boolean => {
  const addr = normalise(ip);
  const family = isIP(addr);
  if (!family) return false;
  const list = new BlockList();
  for (const t of trusted) {
    if (t.prefix === undefined) list.addAddress(t.ipAddress, t.type);
    else list.addSubnet(t.ipAddress, t.prefix, t.type);
  }
  return list.check(addr, family === 4 ? "ipv4" : "ipv6");
};
