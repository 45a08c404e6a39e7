/** IP addresses for iPAddress SANs: text ↔ the 4 or 16 octets of RFC 5280 4.2.1.6, and CIDR matching for policies. */
import { isIPv4, isIPv6 } from "node:net";

export const isIpAddress = (s: string): boolean => isIPv4(s) || isIPv6(s);

export const ipToBytes = (s: string): Buffer | undefined => {
  if (isIPv4(s)) return Buffer.from(s.split(".").map(Number));
  if (!isIPv6(s) || s.includes("%")) return undefined;
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) is two 16-bit groups.
    const b = v4[1].split(".").map(Number);
    text = `${text.slice(0, -v4[1].length)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const parse = (part: string): number[] => (part === "" ? [] : part.split(":").map((h) => parseInt(h, 16)));
  let groups: number[];
  if (rest === undefined) groups = parse(head);
  else {
    const h = parse(head);
    const r = parse(rest);
    groups = [...h, ...new Array<number>(Math.max(0, 8 - h.length - r.length)).fill(0), ...r];
  }
  if (groups.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
};

/** Canonical text (RFC 5952 for IPv6: lowercase, longest zero run compressed). */
export const bytesToIp = (b: Uint8Array): string | undefined => {
  if (b.length === 4) return Array.from(b).join(".");
  if (b.length !== 16) return undefined;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
};

export const canonicalIp = (s: string): string | undefined => {
  const b = ipToBytes(s);
  return b && bytesToIp(b);
};

/** Why `pattern` is not an IP policy value (an address, a CIDR range, or `*`); undefined when it is one. */
export const ipPatternProblem = (pattern: string): string | undefined => {
  if (pattern === "*") return undefined;
  const [net, bitsText, extra] = pattern.split("/");
  const bytes = ipToBytes(net!);
  if (!bytes) return `${JSON.stringify(pattern)} is not an IP address or CIDR range (IP rules take no wildcards other than a lone *)`;
  if (bitsText === undefined) return undefined;
  if (extra !== undefined || !/^\d+$/.test(bitsText) || Number(bitsText) > bytes.length * 8)
    return `${JSON.stringify(pattern)}: the prefix length must be 0 to ${bytes.length * 8}`;
  return undefined;
};

/** `10.0.0.0/8` or `2001:db8::/32` contains `ip`; false for a malformed range or mixed families. */
export const cidrContains = (cidr: string, ip: string): boolean => {
  const [net, bitsText, extra] = cidr.split("/");
  if (extra !== undefined || bitsText === undefined || !/^\d+$/.test(bitsText)) return false;
  const n = ipToBytes(net);
  const a = ipToBytes(ip);
  const bits = Number(bitsText);
  if (!n || !a || n.length !== a.length || bits > n.length * 8) return false;
  for (let i = 0; i < bits; i++) {
    const mask = 0x80 >> (i & 7);
    if ((n[i >> 3] & mask) !== (a[i >> 3] & mask)) return false;
  }
  return true;
};
