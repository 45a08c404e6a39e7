/**
 * Shared by the ACME and EST tests: a required-tool check that skips loudly (or fails under
 * KMS_REQUIRE_SERVICES=1, as CI sets it), free ports, a TLS CA and server certificate made with openssl,
 * and a tiny authoritative DNS server answering TXT queries from a map (for dns-01).
 */
import { spawnSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { createServer } from "node:net";
import type { TestContext } from "node:test";
import { opensslOk, scratch } from "../../helpers/openssl.js";

/** True when `tool` runs; otherwise skips the test loudly, or throws under KMS_REQUIRE_SERVICES=1. */
export const needTool = (t: TestContext, tool: string, hint: string): boolean => {
  const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
  if (r.status === 0) return true;
  const reason = `${tool} is not installed (${hint})`;
  if (process.env.KMS_REQUIRE_SERVICES === "1") throw new Error(`${reason}, and KMS_REQUIRE_SERVICES=1 forbids skipping`);
  process.stderr.write(`\n!!! SKIPPED: ${reason}: the tests that need it did not run !!!\n\n`);
  t.skip(`SKIPPED LOUDLY: ${reason}`);
  return false;
};

export const freePort = () =>
  new Promise<number>((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });

/** A throw-away TLS CA and a server certificate for 127.0.0.1 and localhost, as PEM file paths. */
export const tlsFiles = (dir: ReturnType<typeof scratch>) => {
  const ca = { key: dir.path("tls-ca.key"), cert: dir.path("tls-ca.pem") };
  opensslOk("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=KMS test TLS CA", "-days", "2",
    "-keyout", ca.key, "-out", ca.cert, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  const key = dir.path("tls-server.key");
  const csr = dir.path("tls-server.csr");
  const cert = dir.path("tls-server.pem");
  opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", csr);
  const ext = dir.write("tls-server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n");
  opensslOk("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert);
  return { caCert: ca.cert, cert, key };
};

/**
 * An authoritative-only DNS server on UDP: TXT answers from `records` (lower-case names without the final
 * dot), or from a file of "present <fqdn> <value>" lines that lego's exec provider appends to. NXDOMAIN
 * for anything else.
 */
export const startTxtDns = async (records: Map<string, string[]>, readExtra?: () => string) => {
  const socket: Socket = createSocket("udp4");
  const lookup = (name: string): string[] => {
    const out = [...(records.get(name) ?? [])];
    for (const line of (readExtra?.() ?? "").split("\n")) {
      const [verb, fqdn, value] = line.trim().split(/\s+/);
      if (verb === "present" && fqdn && value && fqdn.toLowerCase().replace(/\.$/, "") === name) out.push(value);
      if (verb === "cleanup" && fqdn && value && fqdn.toLowerCase().replace(/\.$/, "") === name) out.splice(out.indexOf(value), 1);
    }
    return out;
  };
  socket.on("message", (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) { const len = msg[off]!; labels.push(msg.subarray(off + 1, off + 1 + len).toString("latin1")); off += len + 1; }
    const questionEnd = off + 5;
    const qtype = msg.readUInt16BE(off + 1);
    const name = labels.join(".").toLowerCase();
    const values = qtype === 16 ? lookup(name) : [];
    const answers = values.map((v) => {
      const txt = Buffer.from(v, "latin1");
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(16, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(0, 6); rr.writeUInt16BE(txt.length + 1, 10);
      return Buffer.concat([rr, Buffer.from([txt.length]), txt]);
    });
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    const nameExists = values.length > 0 || lookup(name).length > 0;
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | (nameExists || qtype !== 16 ? 0 : 3), 2); // QR, AA, RD echoed, NXDOMAIN when empty
    header.writeUInt16BE(1, 4); header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, msg.subarray(12, questionEnd), ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((res) => socket.bind(0, "127.0.0.1", () => res()));
  return { port: socket.address().port, close: () => new Promise<void>((res) => socket.close(() => res())) };
};
