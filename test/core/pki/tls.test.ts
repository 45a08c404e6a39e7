/** A real TLS handshake: Node server with an issued chain, client trusting only the root, hostname checked against SANs. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer } from "node:tls";
import type { Server } from "node:tls";
import type { AddressInfo } from "node:net";
import { issueLeaf } from "../../../src/core/pki/issue.js";
import { exportPrivateKeyPem } from "../../../src/crypto/keys.js";
import type { KeyAlgorithm } from "../../../src/crypto/keys.js";
import { DAY, makeChain, poolKey } from "./helpers.js";
import type { Chain } from "./helpers.js";

const now = Date.now();
let chain: Chain;
let stranger: Chain;
const servers: Server[] = [];
before(async () => {
  [chain, stranger] = await Promise.all([makeChain(now, { rootKey: "RSA_2048", intermediateKey: "EC_prime256v1" }), makeChain(now, { slot: 5 })]);
});
after(() => {
  for (const s of servers) s.close();
});

const serve = async (leafKey: KeyAlgorithm): Promise<number> => {
  const key = await poolKey(leafKey, 4);
  const leaf = await issueLeaf(chain.intermediate, {
    subject: { commonName: "api.example.test" },
    sans: [{ type: "dns_name", value: "api.example.test" }, { type: "dns_name", value: "*.svc.example.test" }, { type: "ip_address", value: "127.0.0.1" }],
    keyUsages: leafKey.startsWith("RSA") ? ["digital_signature", "key_encipherment"] : ["digital_signature"],
    extendedKeyUsages: ["server_auth"],
    notBefore: now - 1000, notAfter: now + DAY, publicKey: key.spkiDer,
  });
  const server = createServer({ key: exportPrivateKeyPem(key.privateKey), cert: leaf.pem + chain.intermediatePem }, (s) => s.end("hello"));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
};

const handshake = (port: number, opts: { servername?: string; ca: string }): Promise<string> =>
  new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, ca: opts.ca, ...(opts.servername && { servername: opts.servername }) }, () => {
      let data = "";
      s.on("data", (d: Buffer) => (data += d.toString()));
      s.on("end", () => resolve(data));
    });
    s.on("error", reject);
  });

for (const leafKey of ["EC_prime256v1", "RSA_2048"] as const) {
  test(`${leafKey} leaf: handshake succeeds for SAN names, fails for others and for a stranger's root`, async () => {
    const port = await serve(leafKey);
    assert.equal(await handshake(port, { servername: "api.example.test", ca: chain.rootPem }), "hello");
    assert.equal(await handshake(port, { servername: "one.svc.example.test", ca: chain.rootPem }), "hello");
    assert.equal(await handshake(port, { ca: chain.rootPem }), "hello"); // no SNI: checked against the IP SAN 127.0.0.1
    await assert.rejects(handshake(port, { servername: "a.b.svc.example.test", ca: chain.rootPem }), /ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
    await assert.rejects(handshake(port, { servername: "evil.example.test", ca: chain.rootPem }), /ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
    await assert.rejects(handshake(port, { servername: "api.example.test", ca: stranger.rootPem }), /unable to get local issuer certificate|UNABLE_TO_GET_ISSUER_CERT/);
  });
}
