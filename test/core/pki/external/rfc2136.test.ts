/** The RFC 2136 provider against a tiny UPDATE server whose parser and TSIG check are written independently. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRfc2136Provider, Rfc2136Config, buildUpdate, txtChange } from "../../../../src/core/pki/external/dns/rfc2136.js";
import { readName } from "../../../../src/core/pki/external/dns/wire.js";
import { systemClock } from "../../../../src/core/clock.js";
import { startRfc2136Relay } from "./rfc2136-relay.js";

const key = { name: "acme-key", secret: Buffer.from("0123456789abcdef0123456789abcdef") };
const cfg = (server: string, extra: Record<string, unknown> = {}) => Rfc2136Config.parse({ type: "rfc2136", server, zone: "example.com.", ...extra });

test("an UPDATE names the zone's SOA and carries the TXT change (RFC 2136 2.3, 2.5.1, 2.5.4)", () => {
  const msg = buildUpdate(0x1234, "example.com", [txtChange("add", "_acme-challenge.www.example.com", "v", 60)]);
  assert.equal(msg.readUInt16BE(0), 0x1234);
  assert.equal((msg.readUInt16BE(2) >> 11) & 0xf, 5, "opcode UPDATE");
  assert.deepEqual([msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)], [1, 0, 1, 0]);
  const zone = readName(msg, 12);
  assert.equal(zone.name, "example.com");
  assert.deepEqual([msg.readUInt16BE(zone.next), msg.readUInt16BE(zone.next + 2)], [6, 1], "SOA, IN");
  const del = txtChange("delete", "a.example.com", "v", 60);
  const after = readName(del, 0).next;
  assert.deepEqual([del.readUInt16BE(after), del.readUInt16BE(after + 2), del.readUInt32BE(after + 4)], [16, 254, 0], "TXT, class NONE, TTL 0");
});

test("TXT values longer than 255 octets are split into character-strings", () => {
  const rr = txtChange("add", "a.example.com", "x".repeat(300), 60);
  const rdStart = readName(rr, 0).next + 10;
  assert.equal(rr[rdStart], 255);
  assert.equal(rr[rdStart + 256], 45);
});

const cases: { name: string; relay: NonNullable<Parameters<typeof startRfc2136Relay>[0]>; cfg: Record<string, unknown>; secret?: string; expect: RegExp | "ok"; tsig: string }[] = [
  { name: "with TSIG, add then delete", relay: { tsig: key }, cfg: { tsigKeyName: key.name }, secret: key.secret.toString("base64"), expect: "ok", tsig: "ok" },
  { name: "without TSIG", relay: {}, cfg: {}, expect: "ok", tsig: "none" },
  { name: "a wrong TSIG secret is NOTAUTH", relay: { tsig: key }, cfg: { tsigKeyName: key.name }, secret: Buffer.from("wrong").toString("base64"), expect: /refused: NOTAUTH/, tsig: "bad" },
  { name: "an unsigned answer to a signed request is not believed", relay: { tsig: key, answers: "unsigned" }, cfg: { tsigKeyName: key.name }, secret: key.secret.toString("base64"), expect: /refused: the answer is not TSIG-signed/, tsig: "ok" },
  { name: "an answer whose MAC does not verify is not believed", relay: { tsig: key, answers: "bad-mac" }, cfg: { tsigKeyName: key.name }, secret: key.secret.toString("base64"), expect: /refused: the answer's TSIG signature does not verify/, tsig: "ok" },
  { name: "a refusing server is REFUSED", relay: { refuse: true }, cfg: {}, expect: /RFC 2136 add of TXT _acme-challenge\.www\.example\.com at .* refused: REFUSED/, tsig: "none" },
];
for (const c of cases) {
  test(`RFC 2136 provider: ${c.name}`, async () => {
    const relay = await startRfc2136Relay(c.relay);
    try {
      const p = createRfc2136Provider(cfg(relay.address, c.cfg), { tsigSecret: c.secret }, { clock: systemClock });
      if (c.expect === "ok") {
        await p.present("_acme-challenge.www.example.com", "token-value");
        await p.cleanup("_acme-challenge.www.example.com", "token-value");
        assert.deepEqual(relay.seen.map((u) => [u.zone, u.tsig, u.changes[0]!.op, u.changes[0]!.name, u.changes[0]!.txt]), [
          ["example.com", c.tsig, "add", "_acme-challenge.www.example.com", "token-value"],
          ["example.com", c.tsig, "delete", "_acme-challenge.www.example.com", "token-value"],
        ]);
      } else {
        await assert.rejects(p.present("_acme-challenge.www.example.com", "v"), c.expect);
        assert.equal(relay.seen[0]!.tsig, c.tsig);
      }
    } finally { await relay.close(); }
  });
}

test("a name outside the zone is refused before anything is sent; a missing server times out with its address", async () => {
  const p = createRfc2136Provider(cfg("127.0.0.1:9", { timeoutMs: 200 }), {}, { clock: systemClock });
  await assert.rejects(p.present("_acme-challenge.other.org", "v"), /_acme-challenge\.other\.org is not in the zone example\.com\. of the RFC 2136 provider/);
  await assert.rejects(p.present("_acme-challenge.www.example.com", "v"), /127\.0\.0\.1:9/);
});

test("tsigKeyName without a secret is refused at construction", () => {
  assert.throws(() => createRfc2136Provider(cfg("127.0.0.1:53", { tsigKeyName: "k" }), {}, { clock: systemClock }), /tsigSecret: required/);
});
