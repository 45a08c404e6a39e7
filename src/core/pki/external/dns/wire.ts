/** DNS wire format pieces (RFC 1035 3.1, 4.1) shared by the RFC 2136 provider and its tests. */

export const TYPE = { A: 1, SOA: 6, TXT: 16, AAAA: 28, TSIG: 250 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE_UPDATE = 5;

/** A domain name as labels; names are compared case-insensitively, so we send them lower-case (RFC 8945 4.3.3 wants canonical form for TSIG). */
export const encodeName = (name: string): Buffer => {
  const labels = name.replace(/\.$/, "").split(".").filter(Boolean);
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l.toLowerCase(), "ascii");
    if (b.length > 63) throw new Error(`DNS label "${l}" is longer than 63 octets`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
};

/** Reads a (possibly compressed, RFC 1035 4.1.4) name at `offset`; returns it and the offset after it. */
export const readName = (msg: Buffer, offset: number): { name: string; next: number } => {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = msg[pos];
    if (len === undefined) throw new Error("DNS name runs past the message");
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1]!;
      continue;
    }
    if (len === 0) return { name: labels.join("."), next: next < 0 ? pos + 1 : next };
    labels.push(msg.subarray(pos + 1, pos + 1 + len).toString("ascii"));
    pos += 1 + len;
  }
  throw new Error("DNS name has too many compression pointers");
};

const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };

/** A resource record: NAME TYPE CLASS TTL RDLENGTH RDATA (RFC 1035 4.1.3). */
export const rr = (name: string, type: number, klass: number, ttl: number, rdata: Buffer): Buffer =>
  Buffer.concat([encodeName(name), u16(type), u16(klass), u32(ttl), u16(rdata.length), rdata]);

/** TXT RDATA: one or more <character-string>s of at most 255 octets (RFC 1035 3.3.14). */
export const txtRdata = (value: string): Buffer => {
  const b = Buffer.from(value, "utf8");
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length || i === 0; i += 255) { const c = b.subarray(i, i + 255); parts.push(Buffer.from([c.length]), c); }
  return Buffer.concat(parts);
};

export const header = (h: { id: number; flags: number; qd: number; an: number; ns: number; ar: number }): Buffer =>
  Buffer.concat([u16(h.id), u16(h.flags), u16(h.qd), u16(h.an), u16(h.ns), u16(h.ar)]);

export { u16, u32 };

export const RCODES: Record<number, string> = {
  0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE",
  16: "BADSIG", 17: "BADKEY", 18: "BADTIME",
};
