/**
 * The tls-alpn-01 validator (RFC 8737) against local TLS servers whose certificates openssl makes: the
 * right one passes, and each way of getting it wrong is refused with a problem that says what was wrong.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:tls";
import type { AddressInfo } from "node:net";
import { validateTlsAlpn01 } from "../../../src/core/acme/validate.js";
import { opensslOk, scratch } from "../../helpers/openssl.js";

const dir = scratch("kms-alpn-");
const NAME = "alpn.example.com";
const KEY_AUTH = "token-123.thumbprint-456";
const digest = (s: string) => createHash("sha256").update(s).digest("hex");
const servers: Server[] = [];
after(() => { for (const s of servers) s.close(); });

/** A self-signed challenge certificate made by openssl, with the given SAN and acmeIdentifier extension. */
const challengeCert = (name: string, o: { san?: string; ext?: string | null } = {}) => {
  const key = dir.path(`${name}.key`);
  const crt = dir.path(`${name}.crt`);
  const ext = o.ext === undefined ? `1.3.6.1.5.5.7.1.31=critical,DER:0420${digest(KEY_AUTH)}` : o.ext;
  opensslOk("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "1",
    "-subj", "/CN=challenge", "-addext", `subjectAltName=${o.san ?? `DNS:${NAME}`}`, ...(ext ? ["-addext", ext] : []));
  return { key: readFileSync(key), cert: readFileSync(crt) };
};

/** A TLS server that offers the given ALPN protocols (acme-tls/1 by default). */
const serve = async (pair: { key: Buffer; cert: Buffer }, alpn: string[] = ["acme-tls/1"]) => {
  const s = createServer({ ...pair, ...(alpn.length && { ALPNProtocols: alpn }) }, (socket) => socket.end());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return { host: "127.0.0.1", port: (s.address() as AddressInfo).port };
};

const validate = (override: { host: string; port: number }) =>
  validateTlsAlpn01({ type: "dns", value: NAME }, "token-123", KEY_AUTH, { tlsAlpn01Override: override, timeoutMs: 5_000 });

test("the right certificate behind acme-tls/1 passes", async () => {
  await validate(await serve(challengeCert("good")));
});

const refusals: [string, () => Promise<{ host: string; port: number }>, RegExp][] = [
  ["a digest of another key authorization", async () => serve(challengeCert("wrong-digest", { ext: `1.3.6.1.5.5.7.1.31=critical,DER:0420${digest("other")}` })),
    /does not hold the SHA-256 digest of the key authorization/],
  ["a non-critical acmeIdentifier", async () => serve(challengeCert("not-critical", { ext: `1.3.6.1.5.5.7.1.31=DER:0420${digest(KEY_AUTH)}` })), /must be critical/],
  ["no acmeIdentifier at all", async () => serve(challengeCert("no-ext", { ext: null })), /no acmeIdentifier extension/],
  ["another name in the SAN", async () => serve(challengeCert("other-name", { san: "DNS:other.example.com" })), /subjectAltName must be exactly DNS:alpn\.example\.com/],
  ["a second name in the SAN", async () => serve(challengeCert("two-names", { san: `DNS:${NAME},DNS:extra.example.com` })), /subjectAltName must be exactly/],
  ["a server that offers only other protocols (it ends the handshake)", async () => serve(challengeCert("other-alpn"), ["http/1.1"]), /failed: .*no application protocol/],
  ["a server without ALPN", async () => serve(challengeCert("no-alpn"), []), /did not negotiate ALPN "acme-tls\/1" \(got none\)/],
  ["nothing listening", async () => ({ host: "127.0.0.1", port: 9 }), /TLS connection to alpn\.example\.com:443 \(sent to 127\.0\.0\.1:9\) failed/],
];
for (const [what, server, message] of refusals)
  test(`refused: ${what}`, async () => {
    const target = await server();
    await assert.rejects(validate(target), (e: Error & { detail?: string }) => {
      assert.match(e.detail ?? e.message, message);
      return true;
    });
  });
