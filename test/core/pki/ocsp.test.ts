/** OCSP responder core, driven by the real openssl client over HTTP (POST), and the GET form via -respin. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { OCSP_RESPONSE_CONTENT_TYPE, ocspRequestFromGetPath, parseOcspRequest, respondOcsp } from "../../../src/core/pki/ocsp.js";
import type { OcspCertStatus, OcspResponderOptions } from "../../../src/core/pki/ocsp.js";
import { issueLeaf } from "../../../src/core/pki/issue.js";
import type { IssuedCertificate } from "../../../src/core/pki/issue.js";
import { parseCertificate } from "../../../src/core/pki/certificate.js";
import { DAY, makeChain, openssl, poolKey, tmp } from "./helpers.js";
import type { Chain } from "./helpers.js";

const t = tmp();
const now = Date.now();
let chain: Chain;
let other: Chain;
let good: IssuedCertificate;
let revoked: IssuedCertificate;
let unknown: IssuedCertificate;
let foreign: IssuedCertificate;
let server: Server;
let url: string;
let paths: Record<string, string>;
const lookups: string[] = [];
let failLookup = false;

const status = async (_n: Buffer, _k: Buffer, serial: string): Promise<OcspCertStatus> => {
  lookups.push(serial);
  if (failLookup) throw new Error("database down");
  if (serial === revoked.serialNumber) return { status: "revoked", revokedAt: now - 5000, reason: "KEY_COMPROMISE" };
  if (serial === good.serialNumber || serial === parseCertificate(chain.intermediatePem).serialHex) return { status: "good" };
  return { status: "unknown" };
};
const options = (): OcspResponderOptions => ({ issuers: [chain.root, chain.intermediate], lookup: status, now: Date.now() });

before(async () => {
  chain = await makeChain(now, { intermediateKey: "RSA_2048" });
  other = await makeChain(now, { slot: 3 });
  const k = await poolKey("EC_prime256v1", 1);
  const mk = (ctx: Chain["intermediate"], cn: string) => issueLeaf(ctx, { subject: { commonName: cn }, sans: [{ type: "dns_name", value: cn }], keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"], notBefore: now - 1000, notAfter: now + 30 * DAY, publicKey: k.spkiDer });
  [good, revoked, unknown, foreign] = await Promise.all([mk(chain.intermediate, "good.test"), mk(chain.intermediate, "revoked.test"), mk(chain.intermediate, "unknown.test"), mk(other.intermediate, "foreign.test")]);
  paths = {
    root: t.write("root.pem", chain.rootPem), inter: t.write("inter.pem", chain.intermediatePem),
    good: t.write("good.pem", good.pem), revoked: t.write("revoked.pem", revoked.pem), unknown: t.write("unknown.pem", unknown.pem),
    foreign: t.write("foreign.pem", foreign.pem), otherInter: t.write("other-inter.pem", other.intermediatePem),
  };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const der = req.method === "GET" ? ocspRequestFromGetPath((req.url ?? "/").slice(1)) : Buffer.concat(chunks);
      const body = await respondOcsp(der, options());
      res.writeHead(200, { "content-type": OCSP_RESPONSE_CONTENT_TYPE, "content-length": body.length }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  t.cleanup();
});

/** `digest` must precede -cert (openssl's rule). */
const ask = (cert: string, issuer = paths.inter, digest: string[] = []) =>
  openssl(["ocsp", "-url", url, "-issuer", issuer, ...digest, "-cert", cert, "-CAfile", paths.root]);

test("good: openssl verifies the CA-signed response and the echoed nonce", async () => {
  const r = await ask(paths.good);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr + r.stdout, /Response verify OK/);
  assert.match(r.stdout, /good\.pem: good\n\s+This Update: .*\n\s+Next Update: /);
  assert.doesNotMatch(r.stdout + r.stderr, /nonce/i);
});

test("revoked: status, time and reason", async () => {
  const r = await ask(paths.revoked);
  assert.match(r.stderr + r.stdout, /Response verify OK/);
  assert.match(r.stdout, /revoked\.pem: revoked\n[\s\S]*Reason: keyCompromise\n\s+Revocation Time: /);
});

test("unknown serial → unknown", async () => {
  const r = await ask(paths.unknown);
  assert.match(r.stderr + r.stdout, /Response verify OK/);
  assert.match(r.stdout, /unknown\.pem: unknown/);
});

test("the root answers for the intermediate; SHA-256 CertIDs match too", async () => {
  const r = await ask(paths.inter, paths.root, ["-sha256"]);
  assert.match(r.stderr + r.stdout, /Response verify OK/);
  assert.match(r.stdout, /inter\.pem: good/);
  const g = await ask(paths.good, paths.inter, ["-sha256"]);
  assert.match(g.stdout, /good\.pem: good/);
});

test("a certificate of a CA we do not serve → unauthorized", async () => {
  const r = await openssl(["ocsp", "-url", url, "-issuer", paths.otherInter, "-cert", paths.foreign, "-noverify"]);
  assert.match(r.stdout + r.stderr, /Responder Error: unauthorized \(6\)/);
});

test("malformed request → malformedRequest, without a lookup", async () => {
  const before = lookups.length;
  for (const junk of [Buffer.alloc(0), Buffer.from("hello"), Buffer.from([0x30, 0x80, 0x00, 0x00]), Buffer.from([0x30, 0x03, 0x30, 0x01, 0x00])]) {
    const resp = await respondOcsp(junk, options());
    assert.deepEqual(resp, Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]));
  }
  const r = await openssl(["ocsp", "-respin", t.write("malformed.der", await respondOcsp(Buffer.from("x"), options())), "-noverify"]);
  assert.match(r.stdout + r.stderr, /Responder Error: malformedrequest \(1\)/i);
  assert.equal(lookups.length, before);
});

test("a failing lookup answers internalError (never a made-up status) and reports the error", async () => {
  const req = t.write("fail.req", Buffer.alloc(0));
  await openssl(["ocsp", "-issuer", paths.inter, "-cert", paths.good, "-reqout", req]);
  failLookup = true;
  const seen: unknown[] = [];
  try {
    const resp = await respondOcsp(readFileSync(req), { ...options(), onError: (e) => seen.push(e) });
    assert.deepEqual(resp, Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x02]));
    assert.equal(seen.length, 1);
  } finally {
    failLookup = false;
  }
});

test("GET form: base64 + URL encoding decodes to the same request, and the nonce is echoed byte for byte", async () => {
  const reqPath = t.write("get.req", Buffer.alloc(0));
  await openssl(["ocsp", "-issuer", paths.inter, "-cert", paths.revoked, "-reqout", reqPath]);
  const der = readFileSync(reqPath);
  const segment = encodeURIComponent(der.toString("base64"));
  assert.deepEqual(ocspRequestFromGetPath(segment), der);
  const parsed = parseOcspRequest(der);
  assert.equal(parsed.certIds.length, 1);
  assert.equal(parsed.certIds[0].serialNumber, revoked.serialNumber);
  assert.equal(parsed.certIds[0].hashAlgorithm, "sha1");
  const res = await fetch(`${url}/${segment}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.headers.get("content-type"), OCSP_RESPONSE_CONTENT_TYPE);
  assert.ok(body.includes(parsed.nonceExtension!), "the nonce extension is echoed verbatim");
  const r = await openssl(["ocsp", "-respin", t.write("get.resp", body), "-issuer", paths.inter, "-cert", paths.revoked, "-CAfile", paths.root, "-no_nonce"]);
  assert.match(r.stderr + r.stdout, /Response verify OK/);
  assert.match(r.stdout, /revoked\.pem: revoked/);
});
