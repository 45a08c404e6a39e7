/**
 * ACME end to end with the real Debian clients (certbot, lego) against a real `kms server` over HTTPS.
 * http-01 goes to the clients' own loopback listeners through KMS_ACME_HTTP01_OVERRIDE; dns-01 goes to a
 * small TXT server through KMS_ACME_DNS_RESOLVER. Every certificate is checked with `openssl verify`,
 * revocations in the CRL and over OCSP.
 */
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { PERMISSIVE_POLICY, setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl, opensslOk, scratch } from "../helpers/openssl.js";
import { freePort, needTool, startTxtDns, tlsFiles } from "../core/acme/fixtures.js";
import { certificateIdOf } from "../../src/core/acme/ari.js";

// The test's own HTTP calls go through the shared helpers' fetch, which cannot be given a CA; the server's
// TLS certificate comes from a throw-away CA. certbot and lego verify it properly (REQUESTS_CA_BUNDLE,
// LEGO_CA_CERTIFICATES); only this process skips verification.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

const POLICY = {
  ...PERMISSIVE_POLICY,
  sans: [{ type: "dns_name", allowed: ["*.example.com", "example.com"], denied: ["blocked.example.com"] }],
};

const present = (tool: string) => spawnSync(tool, ["--version"]).status === 0;

/** Runs a client without blocking this process: the TXT server that answers dns-01 lives here. */
const run = (cmd: string, args: string[], env: Record<string, string>, timeoutMs = 90_000) =>
  new Promise<{ status: number | null; out: string }>((res) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (status) => { clearTimeout(timer); res({ status, out }); });
  });
const toolsPresent = present("certbot") && present("lego");

describe("ACME with certbot and lego against a real server", { concurrency: false }, () => {
  let s: TestServer;
  let f: PkiFixture;
  let dirUrl: string;
  let eab: { kid: string; key: string };
  let http01Port: number;
  let tlsAlpnPort: number;
  let dns: Awaited<ReturnType<typeof startTxtDns>>;
  let tls: ReturnType<typeof tlsFiles>;
  const files = scratch("kms-acme-");
  const legoRecords = files.path("lego-dns-records.txt");

  const ready = (t: TestContext) => needTool(t, "certbot", "apt-get install certbot") && needTool(t, "lego", "apt-get install lego");

  before(async () => {
    if (!toolsPresent) return;
    tls = tlsFiles(files);
    http01Port = await freePort();
    tlsAlpnPort = await freePort();
    writeFileSync(legoRecords, "");
    dns = await startTxtDns(new Map(), () => readFileSync(legoRecords, "utf8"));
    s = await startServer({
      args: ["--tls-cert", tls.cert, "--tls-key", tls.key],
      env: { KMS_ACME_HTTP01_OVERRIDE: `127.0.0.1:${http01Port}`, KMS_ACME_TLSALPN01_OVERRIDE: `127.0.0.1:${tlsAlpnPort}`, KMS_ACME_DNS_RESOLVER: `127.0.0.1:${dns.port}`, NODE_TLS_REJECT_UNAUTHORIZED: "1" },
    });
    f = await setupPki(s, { projectSlug: "acme-e2e", policy: POLICY });
    const profile = await api(s.address, "POST", "/api/v1/cert-manager/certificate-profiles", { token: s.adminToken, body: {
      projectId: f.projectId, certificatePolicyId: f.policyId, slug: "acme-web", enrollmentType: "acme", caId: f.intermediateCaId, acmeConfig: {},
    } });
    assert.equal(profile.status, 200, profile.text);
    const cred = await api(s.address, "POST", `/api/v1/cert-manager/certificate-profiles/${profile.body.certificateProfile.id}/acme/eab-credentials`, { token: s.adminToken, body: { description: "e2e clients" } });
    assert.equal(cred.status, 200, cred.text);
    dirUrl = cred.body.eabCredential.directoryUrl;
    eab = { kid: cred.body.eabCredential.eabKid, key: cred.body.eabCredential.eabHmacKey };
  });
  after(async () => { await s?.cleanup(); await dns?.close(); });

  const root = () => files.write("root.pem", f.rootCaPem);
  const verify = (leaf: string, chain: string) => openssl("verify", "-purpose", "sslserver", "-CAfile", root(), "-untrusted", chain, leaf);
  const serialOf = (pem: string) => opensslOk("x509", "-noout", "-serial", "-in", pem).trim().replace("serial=", "");

  /** Revocation as relying parties see it: the CA's CRL and its OCSP responder. */
  const revocation = async (leaf: string) => {
    const issuer = files.write("issuer.pem", f.intermediateCaPem);
    const crlUrl = /URI:(\S+)/.exec(opensslOk("x509", "-in", leaf, "-noout", "-ext", "crlDistributionPoints"))![1]!;
    const crl = files.write("crl.der", Buffer.from(await (await fetch(crlUrl).catch((e) => { throw new Error(`${crlUrl}: ${e.cause?.message ?? e}`); })).arrayBuffer()));
    const inCrl = opensslOk("crl", "-inform", "DER", "-in", crl, "-noout", "-text").includes(`Serial Number: ${serialOf(leaf)}`);
    const ocspUrl = opensslOk("x509", "-in", leaf, "-noout", "-ocsp_uri").trim();
    opensslOk("ocsp", "-issuer", issuer, "-cert", leaf, "-no_nonce", "-reqout", files.path("ocsp-req.der"));
    const resp = await fetch(ocspUrl, { method: "POST", headers: { "content-type": "application/ocsp-request" }, body: readFileSync(files.path("ocsp-req.der")) });
    writeFileSync(files.path("ocsp-resp.der"), Buffer.from(await resp.arrayBuffer()));
    const ocsp = openssl("ocsp", "-respin", files.path("ocsp-resp.der"), "-issuer", issuer, "-cert", leaf, "-CAfile", root(), "-verify_other", issuer).out;
    return { inCrl, ocsp };
  };

  // certbot -----------------------------------------------------------------------------------------------
  const certbotDir = files.path("certbot");
  const certbot = (...args: string[]) =>
    run("certbot", [...args, "-n", "--server", dirUrl, "--config-dir", join(certbotDir, "config"), "--work-dir", join(certbotDir, "work"), "--logs-dir", join(certbotDir, "logs")],
      { REQUESTS_CA_BUNDLE: tls.caCert });
  /** certbot 2.1 on Python 3.11 hides any ACME error of finalize and revoke behind "AttributeError: can't set attribute"
   * (josepy's immutable Error meets contextlib; fixed in certbot 2.2): the problem document is in its log. */
  const certbotLog = () => readFileSync(join(certbotDir, "logs", "letsencrypt.log"), "utf8");
  const standalone = ["--standalone", "--http-01-port", "0", "--http-01-address", "127.0.0.1"];
  const withPort = () => standalone.map((a) => (a === "0" ? String(http01Port) : a));
  const live = (name: string, file: string) => join(certbotDir, "config", "live", name, file);

  test("the directory names every resource and requires external account binding", async (t) => {
    if (!ready(t)) return;
    const d = await api(s.address, "GET", new URL(dirUrl).pathname);
    assert.equal(d.status, 200, d.text);
    for (const k of ["newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo"]) assert.match(d.body[k], /^https:\/\/127\.0\.0\.1:\d+\/api\/v1\/cert-manager\/acme\/profiles\//, k);
    assert.equal(d.body.meta.externalAccountRequired, true);
  });

  test("certbot certonly --standalone (http-01) with EAB: openssl verify accepts the certificate", async (t) => {
    if (!ready(t)) return;
    const r = await certbot("certonly", ...withPort(), "--agree-tos", "-m", "certbot@example.com", "--eab-kid", eab.kid, "--eab-hmac-key", eab.key, "-d", "certbot.example.com");
    assert.equal(r.status, 0, r.out);
    const v = verify(live("certbot.example.com", "cert.pem"), live("certbot.example.com", "chain.pem"));
    assert.equal(v.status, 0, v.out);
    const text = opensslOk("x509", "-noout", "-text", "-in", live("certbot.example.com", "cert.pem"));
    assert.match(text, /DNS:certbot\.example\.com/);
    assert.match(text, /TLS Web Server Authentication/);
    assert.doesNotMatch(readFileSync(live("certbot.example.com", "fullchain.pem"), "utf8").split("-----END CERTIFICATE-----").slice(2).join(""), /BEGIN/, "fullchain is leaf + issuing CA, no root");
  });

  test("certbot without EAB credentials is refused: the directory requires them", async (t) => {
    if (!ready(t)) return;
    const r = await run("certbot", ["register", "-n", "--agree-tos", "-m", "x@example.com", "--server", dirUrl,
      "--config-dir", files.path("certbot-noeab"), "--work-dir", files.path("certbot-noeab"), "--logs-dir", files.path("certbot-noeab")], { REQUESTS_CA_BUNDLE: tls.caCert });
    assert.notEqual(r.status, 0);
    assert.match(r.out, /requires external account binding/i, r.out);
  });

  test("certbot renew --force-renewal issues a new certificate", async (t) => {
    if (!ready(t)) return;
    const before = serialOf(live("certbot.example.com", "cert.pem"));
    const r = await certbot("renew", "--force-renewal", "--no-random-sleep-on-renew", "--cert-name", "certbot.example.com", ...withPort());
    assert.equal(r.status, 0, r.out);
    const after = serialOf(live("certbot.example.com", "cert.pem"));
    assert.notEqual(after, before);
    const v = verify(live("certbot.example.com", "cert.pem"), live("certbot.example.com", "chain.pem"));
    assert.equal(v.status, 0, v.out);
  });

  test("certbot revoke, by account key and by certificate key: the CRL and OCSP show both", async (t) => {
    if (!ready(t)) return;
    const current = live("certbot.example.com", "cert.pem");
    let r = await certbot("revoke", "--cert-path", current, "--reason", "keycompromise", "--no-delete-after-revoke");
    assert.equal(r.status, 0, r.out);
    let seen = await revocation(current);
    assert.ok(seen.inCrl, "serial listed in the CRL");
    assert.match(seen.ocsp, /: revoked/, seen.ocsp);
    assert.match(seen.ocsp, /keyCompromise/);

    // The first certificate (before renewal), revoked with its own key, as someone without the account would.
    const first = join(certbotDir, "config", "archive", "certbot.example.com", "cert1.pem");
    r = await certbot("revoke", "--cert-path", first, "--key-path", join(certbotDir, "config", "archive", "certbot.example.com", "privkey1.pem"), "--no-delete-after-revoke");
    assert.equal(r.status, 0, r.out);
    seen = await revocation(first);
    assert.ok(seen.inCrl);
    assert.match(seen.ocsp, /: revoked/, seen.ocsp);

    r = await certbot("revoke", "--cert-path", current, "--no-delete-after-revoke");
    assert.notEqual(r.status, 0, "revoking twice fails");
    assert.match(certbotLog(), /urn:ietf:params:acme:error:alreadyRevoked/);
  });

  test("a name the policy denies: the order fails with a problem document naming the rule", async (t) => {
    if (!ready(t)) return;
    const r = await certbot("certonly", ...withPort(), "-d", "blocked.example.com");
    assert.notEqual(r.status, 0, r.out);
    const problem = [...certbotLog().matchAll(/acme\.messages\.Error: (urn:ietf:params:acme:error:\w+) :: .*? :: (.*)/g)].pop();
    assert.ok(problem, "certbot logged the problem document");
    assert.equal(problem[1], "urn:ietf:params:acme:error:rejectedIdentifier");
    assert.match(problem[2]!, /sans\.dns_name denied/, "names the policy rule");
    assert.match(problem[2]!, /"blocked\.example\.com" is denied/);
    assert.equal(existsSync(live("blocked.example.com", "cert.pem")), false);
  });

  // lego --------------------------------------------------------------------------------------------------
  const lego = (path: string, args: string[], env: Record<string, string> = {}) =>
    run("lego", ["--server", dirUrl, "--path", path, "--accept-tos", "--email", "lego@example.com", "--eab", "--kid", eab.kid, "--hmac", eab.key, ...args],
      { LEGO_CA_CERTIFICATES: tls.caCert, ...env });
  const legoPath = files.path("lego");
  const legoHttp = ["--domains", "lego.example.com", "--http", "--http.port", "127.0.0.1:0"];
  const legoArgs = () => legoHttp.map((a) => (a === "127.0.0.1:0" ? `127.0.0.1:${http01Port}` : a));
  const legoCert = (name: string) => join(legoPath, "certificates", `${name}.crt`);

  test("lego run with EAB (http-01): openssl verify accepts the certificate", async (t) => {
    if (!ready(t)) return;
    const r = await lego(legoPath, [...legoArgs(), "run"]);
    assert.equal(r.status, 0, r.out);
    // lego's .crt is the bundle: leaf, then the issuing CA.
    const v = verify(legoCert("lego.example.com"), join(legoPath, "certificates", "lego.example.com.issuer.crt"));
    assert.equal(v.status, 0, v.out);
    assert.match(opensslOk("x509", "-noout", "-subject", "-in", legoCert("lego.example.com")), /CN ?= ?lego\.example\.com/);
  });

  test("ARI renewalInfo: a window inside the certificate's lifetime, with Retry-After", async (t) => {
    if (!ready(t)) return;
    const pem = readFileSync(legoCert("lego.example.com"), "utf8");
    const dir = (await api(s.address, "GET", new URL(dirUrl).pathname)).body;
    const r = await fetch(`${dir.renewalInfo}/${certificateIdOf(pem)}`);
    assert.equal(r.status, 200);
    assert.ok(Number(r.headers.get("retry-after")) > 0);
    const w = ((await r.json()) as any).suggestedWindow;
    const nb = Date.parse(opensslOk("x509", "-noout", "-startdate", "-in", legoCert("lego.example.com")).split("=")[1]!);
    const na = Date.parse(opensslOk("x509", "-noout", "-enddate", "-in", legoCert("lego.example.com")).split("=")[1]!);
    assert.ok(nb < Date.parse(w.start) && Date.parse(w.start) < Date.parse(w.end) && Date.parse(w.end) < na, JSON.stringify(w));
  });

  test("lego renew and lego revoke", async (t) => {
    if (!ready(t)) return;
    const before = serialOf(legoCert("lego.example.com"));
    let r = await lego(legoPath, [...legoArgs(), "renew", "--days", "400", "--no-random-sleep"]);
    assert.equal(r.status, 0, r.out);
    const renewed = serialOf(legoCert("lego.example.com"));
    assert.notEqual(renewed, before);
    const v = verify(legoCert("lego.example.com"), join(legoPath, "certificates", "lego.example.com.issuer.crt"));
    assert.equal(v.status, 0, v.out);
    r = await lego(legoPath, [...legoArgs(), "revoke", "--keep"]);
    assert.equal(r.status, 0, r.out);
    const seen = await revocation(files.write("lego-leaf.pem", readFileSync(legoCert("lego.example.com"), "utf8").split(/(?<=-----END CERTIFICATE-----)/)[0]!.trim() + "\n"));
    assert.ok(seen.inCrl);
    assert.match(seen.ocsp, /: revoked/, seen.ocsp);
    // RFC 9773 4.2: a revoked certificate's window has already begun, so clients replace it now.
    const dir = (await api(s.address, "GET", new URL(dirUrl).pathname)).body;
    const w = ((await (await fetch(`${dir.renewalInfo}/${certificateIdOf(readFileSync(legoCert("lego.example.com"), "utf8"))}`)).json()) as any).suggestedWindow;
    assert.ok(Date.parse(w.start) < Date.now());
  });

  test("lego with tls-alpn-01 (RFC 8737): our validator checks the acme-tls/1 certificate lego serves", async (t) => {
    if (!ready(t)) return;
    const path = files.path("lego-alpn");
    const r = await lego(path, ["--domains", "alpn.example.com", "--tls", "--tls.port", `127.0.0.1:${tlsAlpnPort}`, "run"]);
    assert.equal(r.status, 0, r.out);
    const cert = join(path, "certificates", "alpn.example.com.crt");
    const v = verify(cert, join(path, "certificates", "alpn.example.com.issuer.crt"));
    assert.equal(v.status, 0, v.out);
    assert.match(opensslOk("x509", "-noout", "-ext", "subjectAltName", "-in", cert), /DNS:alpn\.example\.com/);
  });

  test("lego dns-01 for a wildcard name, validated through the configured resolver", async (t) => {
    if (!ready(t)) return;
    const hook = files.write("lego-exec.sh", `#!/bin/sh\necho "$1 $2 $3" >> '${legoRecords}'\n`);
    chmodSync(hook, 0o755);
    const path = files.path("lego-dns");
    const r = await lego(path, ["--domains", "*.example.com", "--dns", "exec", "--dns.resolvers", `127.0.0.1:${dns.port}`, "--dns.disable-cp", "run"],
      { EXEC_PATH: hook, EXEC_PROPAGATION_TIMEOUT: "30", EXEC_POLLING_INTERVAL: "1" });
    assert.equal(r.status, 0, r.out);
    const crt = join(path, "certificates", "_.example.com.crt");
    const v = verify(crt, join(path, "certificates", "_.example.com.issuer.crt"));
    assert.equal(v.status, 0, v.out);
    assert.match(opensslOk("x509", "-noout", "-ext", "subjectAltName", "-in", crt), /DNS:\*\.example\.com/);
  });

  test("certbot unregister deactivates the account", async (t) => {
    if (!ready(t)) return;
    const r = await certbot("unregister");
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /deactivated/i);
  });
});
