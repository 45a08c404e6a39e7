/**
 * dns-01 through an RFC 2136 dynamic update: BIND, Knot, PowerDNS and most self-hosted authoritative servers accept
 * it. The UPDATE message and its TSIG signature (RFC 8945) are written here by hand over node:dgram / node:net.
 */
import { createHmac, randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { z } from "zod";
import type { Clock } from "../../../clock.js";
import type { DnsProvider } from "./provider.js";
import { CLASS, OPCODE_UPDATE, RCODES, TYPE, encodeName, header, readName, rr, txtRdata, u16 } from "./wire.js";

export const Rfc2136Config = z.object({
  type: z.literal("rfc2136"),
  /** host:port of the primary server for the zone. */
  server: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d+$/, "must be host:port"),
  /** The zone to update (the SOA owner), e.g. `example.com`. */
  zone: z.string().min(1),
  ttl: z.number().int().min(0).max(86_400).default(60),
  protocol: z.enum(["udp", "tcp"]).default("udp"),
  tsigKeyName: z.string().min(1).optional(),
  tsigAlgorithm: z.enum(["hmac-sha256", "hmac-sha512", "hmac-sha1"]).default("hmac-sha256"),
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
});
export type Rfc2136Config = z.infer<typeof Rfc2136Config>;

const HASH = { "hmac-sha256": "sha256", "hmac-sha512": "sha512", "hmac-sha1": "sha1" } as const;

/** An UPDATE (RFC 2136 2.2-2.5): zone section = SOA of the zone, update section = `records`, no prerequisites. */
export const buildUpdate = (id: number, zone: string, records: Buffer[]): Buffer =>
  Buffer.concat([header({ id, flags: OPCODE_UPDATE << 11, qd: 1, an: 0, ns: records.length, ar: 0 }), encodeName(zone), u16(TYPE.SOA), u16(CLASS.IN), ...records]);

/** Add the TXT record (2.5.1), or delete that one record: class NONE, TTL 0 (2.5.4). */
export const txtChange = (op: "add" | "delete", fqdn: string, value: string, ttl: number): Buffer =>
  op === "add" ? rr(fqdn, TYPE.TXT, CLASS.IN, ttl, txtRdata(value)) : rr(fqdn, TYPE.TXT, CLASS.NONE, 0, txtRdata(value));

/**
 * Appends a TSIG record (RFC 8945 4.2). The MAC covers the message as it is without the TSIG record, then the TSIG
 * variables of 4.3.3: key name, class ANY, TTL 0, algorithm name, time signed (48 bits), fudge, error, other data.
 */
export const signTsig = (msg: Buffer, key: { name: string; algorithm: keyof typeof HASH; secret: Buffer }, nowSeconds: number, fudge = 300): Buffer => {
  const time = Buffer.alloc(6);
  time.writeUIntBE(nowSeconds, 0, 6);
  const algName = encodeName(key.algorithm);
  const variables = Buffer.concat([encodeName(key.name), u16(CLASS.ANY), Buffer.alloc(4), algName, time, u16(fudge), u16(0), u16(0)]);
  const mac = createHmac(HASH[key.algorithm], key.secret).update(msg).update(variables).digest();
  const rdata = Buffer.concat([algName, time, u16(fudge), u16(mac.length), mac, msg.subarray(0, 2), u16(0), u16(0)]);
  const out = Buffer.concat([msg, rr(key.name, TYPE.TSIG, CLASS.ANY, 0, rdata)]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10); // ARCOUNT now counts the TSIG record
  return out;
};

const exchangeUdp = (host: string, port: number, msg: Buffer, timeoutMs: number) =>
  new Promise<Buffer>((resolve, reject) => {
    const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
    const timer = setTimeout(() => { sock.close(); reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)); }, timeoutMs);
    sock.on("message", (m) => { if (m.length >= 2 && m.readUInt16BE(0) === msg.readUInt16BE(0)) { clearTimeout(timer); sock.close(); resolve(m); } });
    sock.on("error", (e) => { clearTimeout(timer); sock.close(); reject(e); });
    sock.send(msg, port, host);
  });

/** DNS over TCP: each message is preceded by its two-octet length (RFC 1035 4.2.2). */
const exchangeTcp = (host: string, port: number, msg: Buffer, timeoutMs: number) =>
  new Promise<Buffer>((resolve, reject) => {
    const sock = connect({ host, port });
    let buf = Buffer.alloc(0);
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)));
    sock.on("connect", () => sock.write(Buffer.concat([u16(msg.length), msg])));
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { sock.end(); resolve(buf.subarray(2, 2 + buf.readUInt16BE(0))); }
    });
    sock.on("error", reject);
  });

/** Reads the RCODE, extended by the TSIG error field when the server put one there (RFC 8945 5.3). */
const answerError = (resp: Buffer): string | undefined => {
  const rcode = resp.readUInt16BE(2) & 0x0f;
  if (rcode === 0) return undefined;
  let detail = RCODES[rcode] ?? `RCODE ${rcode}`;
  if (rcode === 9 && resp.readUInt16BE(10) > 0) {
    try { // NOTAUTH with a TSIG record: its error field says BADSIG, BADKEY or BADTIME
      let pos = 12;
      pos = readName(resp, pos).next + 4; // zone section
      pos = readName(resp, pos).next + 8;
      const rdataStart = pos + 2;
      const afterAlg = readName(resp, rdataStart).next;
      const macLen = resp.readUInt16BE(afterAlg + 8);
      const err = resp.readUInt16BE(afterAlg + 10 + macLen + 2);
      if (err) detail += ` (TSIG ${RCODES[err] ?? err})`;
    } catch { /* the plain RCODE is enough */ }
  }
  return detail;
};

export const createRfc2136Provider = (cfg: Rfc2136Config, secrets: { tsigSecret?: string }, deps: { clock: Clock }): DnsProvider => {
  if (cfg.tsigKeyName && !secrets.tsigSecret) throw new Error("dnsProvider.tsigSecret: required when tsigKeyName is set");
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(cfg.server)!;
  const host = m[1]!;
  const port = Number(m[2]);
  const send = async (op: "add" | "delete", fqdn: string, value: string) => {
    const name = fqdn.replace(/\.$/, "").toLowerCase();
    const zone = cfg.zone.replace(/\.$/, "").toLowerCase();
    if (name !== zone && !name.endsWith(`.${zone}`)) throw new Error(`${fqdn} is not in the zone ${cfg.zone} of the RFC 2136 provider`);
    let msg = buildUpdate(randomInt(0, 0x10000), zone, [txtChange(op, name, value, cfg.ttl)]);
    if (cfg.tsigKeyName) msg = signTsig(msg, { name: cfg.tsigKeyName, algorithm: cfg.tsigAlgorithm, secret: Buffer.from(secrets.tsigSecret!, "base64") }, Math.floor(deps.clock.now() / 1000));
    let resp = cfg.protocol === "tcp" ? await exchangeTcp(host, port, msg, cfg.timeoutMs) : await exchangeUdp(host, port, msg, cfg.timeoutMs);
    // TC set: the answer did not fit a datagram; ask again over TCP (RFC 1035 4.2.1).
    if (cfg.protocol === "udp" && resp.readUInt16BE(2) & 0x0200) resp = await exchangeTcp(host, port, msg, cfg.timeoutMs);
    const err = answerError(resp);
    if (err) throw new Error(`RFC 2136 ${op} of TXT ${name} at ${cfg.server} refused: ${err}`);
  };
  return { present: (fqdn, value) => send("add", fqdn, value), cleanup: (fqdn, value) => send("delete", fqdn, value) };
};
