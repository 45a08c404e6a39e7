/**
 * A tiny RFC 2136 primary for tests: it parses DNS UPDATE messages, checks their TSIG (RFC 8945) when a key is
 * configured, records what it was asked, and relays TXT additions and deletions to pebble-challtestsrv (when given),
 * where pebble's resolver finds them. Parsing is written independently of the client's encoder, so the two check
 * each other.
 */
import { createHmac } from "node:crypto";
import { createSocket } from "node:dgram";

export interface UpdateSeen { zone: string; changes: { op: "add" | "delete"; name: string; type: number; ttl: number; txt: string }[]; tsig: "none" | "ok" | "bad" }

const readName = (m: Buffer, o: number): [string, number] => {
  const labels: string[] = [];
  while (m[o]! !== 0) { const l = m[o]!; labels.push(m.subarray(o + 1, o + 1 + l).toString("ascii")); o += 1 + l; }
  return [labels.join("."), o + 1];
};
const wireName = (n: string) => Buffer.concat([...n.split(".").filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l.toLowerCase())])), Buffer.from([0])]);

/** `answers`: how a successful answer to a signed request is signed (RFC 8945 4.3.1) — properly by default. */
export const startRfc2136Relay = async (o: { tsig?: { name: string; secret: Buffer }; challtestsrv?: string; refuse?: boolean; answers?: "signed" | "unsigned" | "bad-mac" } = {}) => {
  const seen: UpdateSeen[] = [];
  const sock = createSocket("udp4");
  sock.on("message", async (m, from) => {
    const id = m.readUInt16BE(0);
    let requestMac: Buffer | undefined;
    const reply = (rcode: number) => {
      let h = Buffer.alloc(12);
      h.writeUInt16BE(id, 0);
      h.writeUInt16BE(0x8000 | (5 << 11) | rcode, 2);
      if (rcode === 0 && requestMac && o.tsig && (o.answers ?? "signed") !== "unsigned") {
        // The answer's MAC covers the request MAC first (RFC 8945 4.3.1), then the answer and the variables.
        const time = Buffer.alloc(6);
        time.writeUIntBE(Math.floor(Date.now() / 1000), 0, 6);
        const alg = wireName("hmac-sha256");
        const vars = Buffer.concat([wireName(o.tsig.name), Buffer.from([0, 255, 0, 0, 0, 0]), alg, time, Buffer.from([1, 44, 0, 0, 0, 0])]);
        const mac = createHmac("sha256", o.answers === "bad-mac" ? Buffer.from("not the key") : o.tsig.secret)
          .update(Buffer.from([requestMac.length >> 8, requestMac.length & 255])).update(requestMac).update(h).update(vars).digest();
        const rdata = Buffer.concat([alg, time, Buffer.from([1, 44, 0, mac.length]), mac, h.subarray(0, 2), Buffer.alloc(4)]);
        const tsigRr = Buffer.concat([wireName(o.tsig.name), Buffer.from([0, 250, 0, 255, 0, 0, 0, 0, rdata.length >> 8, rdata.length & 255]), rdata]);
        h = Buffer.concat([h, tsigRr]);
        h.writeUInt16BE(1, 10);
      }
      sock.send(h, from.port, from.address);
    };
    try {
      const opcode = (m.readUInt16BE(2) >> 11) & 0xf;
      if (opcode !== 5) return reply(4); // NOTIMP
      let [zone, p] = readName(m, 12);
      p += 4;
      const u: UpdateSeen = { zone, changes: [], tsig: "none" };
      const nsCount = m.readUInt16BE(8);
      const arCount = m.readUInt16BE(10);
      for (let i = 0; i < nsCount; i++) {
        const [name, q] = readName(m, p);
        const type = m.readUInt16BE(q), klass = m.readUInt16BE(q + 2), ttl = m.readUInt32BE(q + 4), len = m.readUInt16BE(q + 8);
        const rdata = m.subarray(q + 10, q + 10 + len);
        u.changes.push({ op: klass === 254 ? "delete" : "add", name, type, ttl, txt: rdata.subarray(1, 1 + rdata[0]!).toString() });
        p = q + 10 + len;
      }
      if (arCount === 1) {
        const tsigStart = p;
        const [keyName, q] = readName(m, p);
        const [alg, r] = readName(m, q + 10);
        const time = m.subarray(r, r + 6), fudge = m.readUInt16BE(r + 6), macLen = m.readUInt16BE(r + 8);
        const mac = m.subarray(r + 10, r + 10 + macLen);
        const unsigned = Buffer.from(m.subarray(0, tsigStart));
        unsigned.writeUInt16BE(0, 10);
        const vars = Buffer.concat([wireName(keyName), Buffer.from([0, 255, 0, 0, 0, 0]), wireName(alg), time, Buffer.from([fudge >> 8, fudge & 255, 0, 0, 0, 0])]);
        const expect = o.tsig && keyName === o.tsig.name && alg === "hmac-sha256" ? createHmac("sha256", o.tsig.secret).update(unsigned).update(vars).digest() : undefined;
        u.tsig = expect && expect.equals(mac) ? "ok" : "bad";
        requestMac = Buffer.from(mac);
      }
      seen.push(u);
      if (o.refuse) return reply(5);
      if (o.tsig && u.tsig !== "ok") return reply(9); // NOTAUTH
      for (const c of u.changes) {
        if (!o.challtestsrv || c.type !== 16) continue;
        const path = c.op === "add" ? "set-txt" : "clear-txt";
        await fetch(`${o.challtestsrv}/${path}`, { method: "POST", body: JSON.stringify({ host: `${c.name}.`, ...(c.op === "add" && { value: c.txt }) }) });
      }
      reply(0);
    } catch { reply(1); } // FORMERR
  });
  await new Promise<void>((res) => sock.bind(0, "127.0.0.1", () => res()));
  return { address: `127.0.0.1:${sock.address().port}`, seen, close: () => new Promise<void>((res) => sock.close(() => res())) };
};
