/**
 * dns-01 through an RFC 2136 dynamic update: BIND, Knot, PowerDNS and most self-hosted authoritative servers accept
 * it. The UPDATE message and its TSIG signature (RFC 8945) are written here by hand over node:dgram / node:net.
 */
import { createHmac, randomInt, timingSafeEqual } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { z } from "zod";
import type { Clock } from "../../../clock.js";
import { DnsRefusedError, type DnsProvider } from "./provider.js";
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
  // Strict: a misspelt key (tsigkeyName, say) would otherwise be dropped and the UPDATEs sent unsigned.
}).strict();
export type Rfc2136Config = z.infer<typeof Rfc2136Config>;

const HASH = { "hmac-sha256": "sha256", "hmac-sha512": "sha512", "hmac-sha1": "sha1" } as const;

/** An UPDATE (RFC 2136 2.2-2.5): zone section = SOA of the zone, update section = `records`, no prerequisites. */
export const buildUpdate = (id: number, zone: string, records: Buffer[]): Buffer =>
  Buffer.concat([header({ id, flags: OPCODE_UPDATE << 11, qd: 1, an: 0, ns: records.length, ar: 0 }), encodeName(zone), u16(TYPE.SOA), u16(CLASS.IN), ...records]);

/** Add the TXT record (2.5.1), or delete that one record: class NONE, TTL 0 (2.5.4). */
export const txtChange = (op: "add" | "delete", fqdn: string, value: string, ttl: number): Buffer =>
  op === "add" ? rr(fqdn, TYPE.TXT, CLASS.IN, ttl, txtRdata(value)) : rr(fqdn, TYPE.TXT, CLASS.NONE, 0, txtRdata(value));

type TsigKey = { name: string; algorithm: keyof typeof HASH; secret: Buffer };

/**
 * The TSIG MAC (RFC 8945 4.3): for a response, first the request's MAC with its length (4.3.1); then the message
 * as it is without the TSIG record; then the TSIG variables of 4.3.3 (key name, class ANY, TTL 0, algorithm name,
 * time signed in 48 bits, fudge, error, other data).
 */
const tsigMac = (key: TsigKey, unsigned: Buffer, t: { time: Buffer; fudge: number; error: number; other: Buffer }, requestMac?: Buffer): Buffer => {
  const h = createHmac(HASH[key.algorithm], key.secret);
  if (requestMac) h.update(u16(requestMac.length)).update(requestMac);
  const variables = Buffer.concat([encodeName(key.name), u16(CLASS.ANY), Buffer.alloc(4), encodeName(key.algorithm), t.time, u16(t.fudge), u16(t.error), u16(t.other.length), t.other]);
  return h.update(unsigned).update(variables).digest();
};

/** Appends a TSIG record (RFC 8945 4.2); returns the signed message and its MAC, which the answer's MAC covers. */
export const signTsig = (msg: Buffer, key: TsigKey, nowSeconds: number, fudge = 300): { message: Buffer; mac: Buffer } => {
  const time = Buffer.alloc(6);
  time.writeUIntBE(nowSeconds, 0, 6);
  const mac = tsigMac(key, msg, { time, fudge, error: 0, other: Buffer.alloc(0) });
  const rdata = Buffer.concat([encodeName(key.algorithm), time, u16(fudge), u16(mac.length), mac, msg.subarray(0, 2), u16(0), u16(0)]);
  const message = Buffer.concat([msg, rr(key.name, TYPE.TSIG, CLASS.ANY, 0, rdata)]);
  message.writeUInt16BE(message.readUInt16BE(10) + 1, 10); // ARCOUNT now counts the TSIG record
  return { message, mac };
};

export interface TsigRecord { keyName: string; algorithm: string; time: Buffer; fudge: number; mac: Buffer; error: number; other: Buffer; unsigned: Buffer }

/** Finds the TSIG record that ends a message (RFC 8945 5.1: it must be the last additional record) and reads it. */
export const readTsig = (msg: Buffer): TsigRecord | undefined => {
  const counts = [msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
  if (counts[3] === 0) return undefined;
  let pos = 12;
  for (let i = 0; i < counts[0]!; i++) pos = readName(msg, pos).next + 4;
  let last = -1;
  for (let i = 0; i < counts[1]! + counts[2]! + counts[3]!; i++) {
    last = pos;
    pos = readName(msg, pos).next;
    pos += 10 + msg.readUInt16BE(pos + 8);
  }
  const owner = readName(msg, last);
  if (msg.readUInt16BE(owner.next) !== TYPE.TSIG) return undefined;
  const alg = readName(msg, owner.next + 10);
  let p = alg.next;
  const time = msg.subarray(p, p + 6);
  const fudge = msg.readUInt16BE(p + 6);
  const macLen = msg.readUInt16BE(p + 8);
  const mac = msg.subarray(p + 10, p + 10 + macLen);
  p += 10 + macLen;
  const originalId = msg.readUInt16BE(p);
  const error = msg.readUInt16BE(p + 2);
  const other = msg.subarray(p + 6, p + 6 + msg.readUInt16BE(p + 4));
  // The MAC covers the message as it was before the record was added: original ID, one additional record fewer.
  const unsigned = Buffer.from(msg.subarray(0, last));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(counts[3]! - 1, 10);
  return { keyName: owner.name, algorithm: alg.name, time, fudge, mac, error, other, unsigned };
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

/**
 * What went wrong, or undefined when the server applied the update. A signed request needs a signed answer whose
 * MAC verifies (RFC 8945 5.3): otherwise anyone on the path could fake a success. Error answers may come unsigned
 * (BADKEY, BADSIG: the server could not sign), and then their RCODE and TSIG error say why.
 */
export const answerProblem = (resp: Buffer, signed?: { key: TsigKey; requestMac: Buffer; nowSeconds: number }): string | undefined => {
  const rcode = resp.readUInt16BE(2) & 0x0f;
  const tsig = signed ? readTsig(resp) : undefined;
  if (rcode !== 0) {
    const err = tsig?.error ? ` (TSIG ${RCODES[tsig.error] ?? tsig.error})` : "";
    return `${RCODES[rcode] ?? `RCODE ${rcode}`}${err}`;
  }
  if (!signed) return undefined;
  if (!tsig) return "the answer is not TSIG-signed";
  if (tsig.keyName.toLowerCase() !== signed.key.name.toLowerCase().replace(/\.$/, "") || tsig.algorithm.toLowerCase() !== signed.key.algorithm)
    return `the answer is signed with another key (${tsig.keyName}, ${tsig.algorithm})`;
  const expected = tsigMac(signed.key, tsig.unsigned, tsig, signed.requestMac);
  if (expected.length !== tsig.mac.length || !timingSafeEqual(expected, tsig.mac)) return "the answer's TSIG signature does not verify";
  if (Math.abs(signed.nowSeconds - tsig.time.readUIntBE(0, 6)) > tsig.fudge) return "the answer's TSIG time is outside its fudge (BADTIME)";
  return undefined;
};

export const createRfc2136Provider = (cfg: Rfc2136Config, secrets: { tsigSecret?: string }, deps: { clock: Clock }): DnsProvider => {
  if (cfg.tsigKeyName && !secrets.tsigSecret) throw new Error("dnsProvider.tsigSecret: required when tsigKeyName is set");
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(cfg.server)!;
  const host = m[1]!;
  const port = Number(m[2]);
  const send = async (op: "add" | "delete", fqdn: string, value: string) => {
    const name = fqdn.replace(/\.$/, "").toLowerCase();
    const zone = cfg.zone.replace(/\.$/, "").toLowerCase();
    if (name !== zone && !name.endsWith(`.${zone}`)) throw new DnsRefusedError(`${fqdn} is not in the zone ${cfg.zone} of the RFC 2136 provider`);
    let msg = buildUpdate(randomInt(0, 0x10000), zone, [txtChange(op, name, value, cfg.ttl)]);
    const nowSeconds = Math.floor(deps.clock.now() / 1000);
    let signed: { key: TsigKey; requestMac: Buffer; nowSeconds: number } | undefined;
    if (cfg.tsigKeyName) {
      const key = { name: cfg.tsigKeyName, algorithm: cfg.tsigAlgorithm, secret: Buffer.from(secrets.tsigSecret!, "base64") };
      const s = signTsig(msg, key, nowSeconds);
      msg = s.message;
      signed = { key, requestMac: s.mac, nowSeconds };
    }
    let resp = cfg.protocol === "tcp" ? await exchangeTcp(host, port, msg, cfg.timeoutMs) : await exchangeUdp(host, port, msg, cfg.timeoutMs);
    // TC set: the answer did not fit a datagram; ask again over TCP (RFC 1035 4.2.1).
    if (cfg.protocol === "udp" && resp.readUInt16BE(2) & 0x0200) resp = await exchangeTcp(host, port, msg, cfg.timeoutMs);
    const err = answerProblem(resp, signed);
    if (!err) return;
    const message = `RFC 2136 ${op} of TXT ${name} at ${cfg.server} refused: ${err}`;
    // An answer the server gave on purpose (REFUSED, NOTAUTH, NOTZONE, …) is final; SERVFAIL and answers we do not
    // believe (unsigned, forged) may be passing trouble, and are retried.
    const rcode = resp.readUInt16BE(2) & 0x0f;
    throw rcode !== 0 && rcode !== 2 ? new DnsRefusedError(message) : new Error(message);
  };
  return { present: (fqdn, value) => send("add", fqdn, value), cleanup: (fqdn, value) => send("delete", fqdn, value) };
};
