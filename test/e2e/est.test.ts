/**
 * EST (RFC 7030) end to end: a real `kms server` over HTTPS that asks for (never requires) client
 * certificates, driven with curl and openssl exactly as the documentation shows.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { PERMISSIVE_POLICY, setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl, opensslOk, scratch } from "../helpers/openssl.js";
import { tlsFiles } from "../core/acme/fixtures.js";

// The shared helpers' fetch cannot be given a CA; curl verifies the server against the test CA properly.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

const PASSPHRASE = "correct horse battery staple";
const POLICY = {
  ...PERMISSIVE_POLICY,
  sans: [{ type: "dns_name", allowed: ["*.example.com"], denied: ["rogue.example.com"] }],
  extendedKeyUsages: { allowed: ["server_auth", "client_auth"] },
};

describe("EST with curl and openssl against a real server", { concurrency: false }, () => {
  let s: TestServer;
  let f: PkiFixture;
  let tls: ReturnType<typeof tlsFiles>;
  let estProfileId: string;
  const files = scratch("kms-est-");

  const profiles = (body: Record<string, unknown>) => api(s.address, "POST", "/api/v1/cert-manager/certificate-profiles", { token: s.adminToken, body: {
    projectId: f.projectId, certificatePolicyId: f.policyId, caId: f.intermediateCaId, ...body,
  } });

  before(async () => {
    tls = tlsFiles(files);
    s = await startServer({ args: ["--tls-cert", tls.cert, "--tls-key", tls.key, "--tls-request-client-cert"], env: { NODE_TLS_REJECT_UNAUTHORIZED: "1" } });
    f = await setupPki(s, { projectSlug: "est-e2e", policy: POLICY });
    const p = await profiles({ slug: "devices", enrollmentType: "est", estConfig: { passphrase: PASSPHRASE }, defaults: { extendedKeyUsages: ["client_auth"] } });
    assert.equal(p.status, 200, p.text);
    estProfileId = p.body.certificateProfile.id;
  });
  after(() => s?.cleanup());

  /** curl as an EST client would run it; returns the HTTP status, the headers and the body file. */
  const curl = (path: string, o: { user?: string; cert?: [string, string]; csr?: string } = {}) => {
    const out = files.path(`resp-${Math.random().toString(36).slice(2)}`);
    const args = ["-sS", "--cacert", tls.caCert, "-o", out, "-D", `${out}.headers`, "-w", "%{http_code}", `${s.address}/.well-known/est/${path}`];
    if (o.user) args.push("--user", o.user);
    if (o.cert) args.push("--cert", o.cert[0], "--key", o.cert[1]);
    if (o.csr) args.push("-H", "Content-Type: application/pkcs10", "--data-binary", `@${o.csr}`);
    const r = spawnSync("curl", args, { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return { status: Number(r.stdout), headers: readFileSync(`${out}.headers`, "utf8"), body: out };
  };
  /** base64 certs-only PKCS#7 → PEM certificates, with openssl. */
  const certsOf = (b64File: string) => {
    opensslOk("base64", "-d", "-in", b64File, "-out", `${b64File}.der`);
    return opensslOk("pkcs7", "-inform", "DER", "-in", `${b64File}.der`, "-print_certs");
  };
  /** An openssl-made key and base64 DER CSR, as RFC 7030 4.2.1 sends it. */
  const csr = (name: string, cn = name) => {
    const key = files.path(`${name}-${Math.random().toString(36).slice(2)}.key`);
    opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", `/CN=${cn}`,
      "-addext", `subjectAltName=DNS:${name}`, "-outform", "DER", "-out", `${key}.csr.der`);
    opensslOk("base64", "-in", `${key}.csr.der`, "-out", `${key}.csr.b64`);
    return { key, csr: `${key}.csr.b64` };
  };
  const verify = (pem: string) =>
    openssl("verify", "-purpose", "sslclient", "-CAfile", files.write("root.pem", f.rootCaPem), "-untrusted", files.write("inter.pem", f.intermediateCaPem), files.write(`v-${Math.random()}.pem`, pem));

  test("cacerts: the issuing CA and its root as base64 certs-only PKCS#7, no authentication", () => {
    const r = curl("devices/cacerts");
    assert.equal(r.status, 200);
    assert.match(r.headers, /content-type: application\/pkcs7-mime; smime-type=certs-only/i);
    assert.match(r.headers, /content-transfer-encoding: base64/i);
    const pems = certsOf(r.body);
    assert.match(pems, /subject=.*CN ?= ?Test Issuing CA/);
    assert.match(pems, /subject=.*CN ?= ?Test Root CA/);
  });

  let device: { key: string; cert: string };
  test("simpleenroll with the passphrase: a certificate openssl verify accepts", () => {
    const c = csr("device1.example.com");
    const r = curl("devices/simpleenroll", { user: `device1:${PASSPHRASE}`, csr: c.csr });
    assert.equal(r.status, 200, readFileSync(r.body, "utf8"));
    const pem = certsOf(r.body);
    assert.equal((pem.match(/BEGIN CERTIFICATE/g) ?? []).length, 1, "only the issued certificate");
    const v = verify(pem);
    assert.equal(v.status, 0, v.out);
    const text = opensslOk("x509", "-noout", "-text", "-in", files.write("device1.pem", pem));
    assert.match(text, /DNS:device1\.example\.com/);
    assert.match(text, /TLS Web Client Authentication/, "profile defaults apply");
    device = { key: c.key, cert: files.path("device1.pem") };
  });

  test("serverkeygen: the server makes the key; key and certificate come back as the two base64 parts of multipart/mixed", () => {
    const c = csr("keygen.example.com");
    const r = curl("devices/serverkeygen", { user: `k:${PASSPHRASE}`, csr: c.csr });
    assert.equal(r.status, 200, readFileSync(r.body, "utf8"));
    const boundary = /content-type: multipart\/mixed; boundary=(\S+)/i.exec(r.headers)?.[1];
    assert.ok(boundary, r.headers);
    const parts = readFileSync(r.body, "utf8").split(`--${boundary}`).slice(1, -1).map((p) => {
      const [head, body] = p.split("\r\n\r\n");
      return { head: head!, body: body!.trim() };
    });
    assert.equal(parts.length, 2);
    assert.match(parts[0]!.head, /Content-Type: application\/pkcs8/);
    assert.match(parts[1]!.head, /Content-Type: application\/pkcs7-mime; smime-type=certs-only/);
    assert.ok(parts.every((p) => /Content-Transfer-Encoding: base64/.test(p.head)));
    const keyPem = `-----BEGIN PRIVATE KEY-----\n${parts[0]!.body.replace(/\s+/g, "").match(/.{1,64}/g)!.join("\n")}\n-----END PRIVATE KEY-----\n`;
    const key = files.write("keygen.key", keyPem);
    opensslOk("pkey", "-in", key, "-check", "-noout");
    const pem = certsOf(files.write("keygen.p7.b64", parts[1]!.body));
    const v = verify(pem);
    assert.equal(v.status, 0, v.out);
    const cert = files.write("keygen.pem", pem);
    assert.match(opensslOk("x509", "-noout", "-ext", "subjectAltName", "-in", cert), /DNS:keygen\.example\.com/, "names from the CSR");
    const pub = (args: string[]) => opensslOk(...args);
    assert.equal(pub(["x509", "-in", cert, "-pubkey", "-noout"]), pub(["pkey", "-in", key, "-pubout"]), "the returned key is the certificate's");
    assert.notEqual(pub(["pkey", "-in", c.key, "-pubout"]), pub(["pkey", "-in", key, "-pubout"]), "not the CSR's key: a new one");
  });

  test("the audit log says who enrolled: the profile's passphrase, or the certificate a client authenticated with", async () => {
    const log = await api(s.address, "GET", `/api/v1/projects/${f.projectId}/audit-logs?limit=500`, { token: s.adminToken });
    assert.equal(log.status, 200, log.text);
    const keygen = log.body.auditLogs.find((e: any) => e.action === "est-serverkeygen");
    assert.deepEqual(keygen?.actor, { type: "est-passphrase", id: estProfileId });
    assert.ok(!log.text.includes(PASSPHRASE), "never the passphrase itself");
  });

  test("serverkeygen goes through the same authentication and policy as simpleenroll", () => {
    assert.equal(curl("devices/serverkeygen", { user: "k:wrong", csr: csr("keygen2.example.com").csr }).status, 401);
    const denied = curl("devices/serverkeygen", { user: `k:${PASSPHRASE}`, csr: csr("rogue.example.com").csr });
    assert.equal(denied.status, 400);
    assert.match(readFileSync(denied.body, "utf8"), /rogue\.example\.com/);
  });

  test("serverkeygen refuses a CSR that asks for the key encrypted to a client key, rather than answering in the clear", () => {
    const key = files.path("encrypt-me.key");
    const config = files.write("encrypt-me.cnf", [
      "[req]", "distinguished_name = dn", "attributes = attrs", "prompt = no",
      "[dn]", "CN = keygen3.example.com", "[attrs]", "1.2.840.113549.1.9.16.2.37 = client-key-1", "",
    ].join("\n"));
    opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-config", config,
      "-addext", "subjectAltName=DNS:keygen3.example.com", "-outform", "DER", "-out", `${key}.csr.der`);
    opensslOk("base64", "-in", `${key}.csr.der`, "-out", `${key}.csr.b64`);
    const r = curl("devices/serverkeygen", { user: `k:${PASSPHRASE}`, csr: `${key}.csr.b64` });
    assert.equal(r.status, 400);
    assert.match(readFileSync(r.body, "utf8"), /asks for the private key encrypted \(DecryptKeyIdentifier\), which this server does not support/);
  });

  test("the profile id works as the label too", () => {
    const r = curl(`${estProfileId}/simpleenroll`, { user: `x:${PASSPHRASE}`, csr: csr("device2.example.com").csr });
    assert.equal(r.status, 200, readFileSync(r.body, "utf8"));
  });

  test("a body that is not application/pkcs10, or too large, is refused in plain text saying what is expected", () => {
    const c = csr("device7.example.com");
    const send = (args: string[]) => {
      const out = files.path(`raw-${Math.random().toString(36).slice(2)}`);
      const r = spawnSync("curl", ["-sS", "--cacert", tls.caCert, "--user", `d:${PASSPHRASE}`, "-o", out, "-D", `${out}.h`, "-w", "%{http_code}", ...args, `${s.address}/.well-known/est/devices/simpleenroll`], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      return { status: Number(r.stdout), headers: readFileSync(`${out}.h`, "utf8"), text: readFileSync(out, "utf8") };
    };
    // curl's default for --data-binary is application/x-www-form-urlencoded.
    const untyped = send(["--data-binary", `@${c.csr}`]);
    assert.equal(untyped.status, 415);
    assert.match(untyped.headers, /content-type: text\/plain/i);
    assert.match(untyped.text, /Content-Type: application\/pkcs10/);
    const big = send(["-H", "Content-Type: application/pkcs10", "--data-binary", `@${files.write("big.b64", "A".repeat(100_000))}`]);
    assert.equal(big.status, 413);
    assert.match(big.headers, /content-type: text\/plain/i);
    assert.match(big.text, /larger than 64 KiB/);
  });

  test("a wrong or missing passphrase is refused with 401 and a Basic challenge", () => {
    for (const user of [`device1:${PASSPHRASE}x`, undefined]) {
      const r = curl("devices/simpleenroll", { ...(user && { user }), csr: csr("device3.example.com").csr });
      assert.equal(r.status, 401, user);
      assert.match(r.headers, /www-authenticate: Basic realm="kms-est"/i);
    }
  });

  test("simplereenroll with the current certificate over TLS (no passphrase): same names, new certificate", () => {
    const c = csr("device1.example.com");
    const r = curl("devices/simplereenroll", { cert: [device.cert, device.key], csr: c.csr });
    assert.equal(r.status, 200, readFileSync(r.body, "utf8"));
    const pem = certsOf(r.body);
    assert.equal(verify(pem).status, 0);
    const serial = (p: string) => opensslOk("x509", "-noout", "-serial", "-in", p).trim();
    assert.notEqual(serial(files.write("device1-new.pem", pem)), serial(device.cert));
    assert.match(opensslOk("x509", "-noout", "-subject", "-in", files.path("device1-new.pem")), /CN ?= ?device1\.example\.com/);
  });

  test("simplereenroll for other names than the presented certificate is refused", () => {
    const r = curl("devices/simplereenroll", { cert: [device.cert, device.key], csr: csr("device9.example.com").csr });
    assert.equal(r.status, 400);
    assert.match(readFileSync(r.body, "utf8"), /subject and subjectAltName must equal/);
  });

  test("re-enrollment with the passphrase and no client certificate works like enrollment", () => {
    const r = curl("devices/simplereenroll", { user: `device4:${PASSPHRASE}`, csr: csr("device4.example.com").csr });
    assert.equal(r.status, 200, readFileSync(r.body, "utf8"));
  });

  test("the profile's policy applies: a denied name is refused naming the rule", () => {
    const r = curl("devices/simpleenroll", { user: `d:${PASSPHRASE}`, csr: csr("rogue.example.com").csr });
    assert.equal(r.status, 400);
    const text = readFileSync(r.body, "utf8");
    assert.match(text, /sans\.dns_name: "rogue\.example\.com" is denied/);
  });

  test("a revoked certificate no longer authenticates", async () => {
    const list = await api(s.address, "GET", `/api/v1/cert-manager/certificates?projectId=${f.projectId}&commonName=device1.example.com`, { token: s.adminToken });
    const serial = opensslOk("x509", "-noout", "-serial", "-in", device.cert).trim().replace("serial=", "").toLowerCase();
    const row = list.body.certificates.find((c: { serialNumber: string }) => c.serialNumber === serial);
    assert.ok(row, "the EST certificate is in the inventory");
    const rev = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${row.id}/revoke`, { token: s.adminToken, body: { revocationReason: "SUPERSEDED" } });
    assert.equal(rev.status, 200, rev.text);
    const r = curl("devices/simplereenroll", { cert: [device.cert, device.key], csr: csr("device1.example.com").csr });
    assert.equal(r.status, 401);
  });

  test("a bootstrap CA chain: the passphrase alone is not enough, a certificate from that CA is also needed", async () => {
    const p = await profiles({ slug: "factory", enrollmentType: "est", estConfig: { passphrase: PASSPHRASE, caChain: readFileSync(tls.caCert, "utf8") } });
    assert.equal(p.status, 200, p.text);
    assert.equal(curl("factory/simpleenroll", { user: `x:${PASSPHRASE}`, csr: csr("boot.example.com").csr }).status, 401);
    // A manufacturer-style bootstrap certificate from the test CA.
    const key = files.path("boot.key");
    opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", "/CN=boot-device", "-out", files.path("boot.csr"));
    opensslOk("x509", "-req", "-in", files.path("boot.csr"), "-CA", tls.caCert, "-CAkey", join(files.dir, "tls-ca.key"), "-days", "1", "-out", files.path("boot.pem"),
      "-extfile", files.write("boot.ext", "extendedKeyUsage=clientAuth\n"));
    const ok = curl("factory/simpleenroll", { user: `x:${PASSPHRASE}`, cert: [files.path("boot.pem"), key], csr: csr("boot.example.com").csr });
    assert.equal(ok.status, 200, readFileSync(ok.body, "utf8"));
    assert.equal(curl("factory/simpleenroll", { user: `x:${PASSPHRASE}x`, cert: [files.path("boot.pem"), key], csr: csr("boot.example.com").csr }).status, 401);
  });

  test("the passphrase is stored hashed and never returned; changing it takes effect", async () => {
    const got = await api(s.address, "GET", `/api/v1/cert-manager/certificate-profiles/${estProfileId}`, { token: s.adminToken });
    assert.equal(got.status, 200);
    assert.equal(got.body.certificateProfile.estConfig.disableBootstrapCaValidation, false);
    assert.doesNotMatch(got.text, /correct horse|passphrase/i);
    // SQLite runs in WAL mode: recent writes sit in the -wal file until a checkpoint.
    for (const file of ["kms.sqlite", "kms.sqlite-wal"].map((n) => join(s.dataDir, n)).filter((p) => existsSync(p)))
      assert.equal(readFileSync(file).includes(PASSPHRASE), false, `no plaintext passphrase in ${file}`);
    const patched = await api(s.address, "PATCH", `/api/v1/cert-manager/certificate-profiles/${estProfileId}`, { token: s.adminToken, body: { estConfig: { passphrase: "a new passphrase" } } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(curl("devices/simpleenroll", { user: `x:${PASSPHRASE}`, csr: csr("device5.example.com").csr }).status, 401);
    assert.equal(curl("devices/simpleenroll", { user: "x:a new passphrase", csr: csr("device5.example.com").csr }).status, 200);
  });

  test("profile rules of api.md 7.5 for est and acme configs", async () => {
    const cases: { name: string; body: Record<string, unknown>; status: number; message?: RegExp }[] = [
      { name: "est without passphrase", body: { slug: "e1", enrollmentType: "est", estConfig: {} }, status: 422, message: /estConfig\.passphrase/ },
      { name: "est without estConfig", body: { slug: "e2", enrollmentType: "est" }, status: 422, message: /estConfig/ },
      { name: "short passphrase", body: { slug: "e3", enrollmentType: "est", estConfig: { passphrase: "short" } }, status: 422, message: /8 to 256/ },
      { name: "caChain that is no PEM", body: { slug: "e4", enrollmentType: "est", estConfig: { passphrase: PASSPHRASE, caChain: "nope" } }, status: 422, message: /caChain/ },
      { name: "acme skipping both checks", body: { slug: "a1", enrollmentType: "acme", acmeConfig: { skipDnsOwnershipVerification: true, skipEabBinding: true } }, status: 422, message: /cannot both be true/ },
      { name: "acmeConfig on an est profile", body: { slug: "a2", enrollmentType: "est", estConfig: { passphrase: PASSPHRASE }, acmeConfig: {} }, status: 422, message: /only applies to enrollmentType "acme"/ },
      { name: "acme with defaults", body: { slug: "a3", enrollmentType: "acme" }, status: 200 },
      { name: "acme skipping EAB only", body: { slug: "a4", enrollmentType: "acme", acmeConfig: { skipEabBinding: true } }, status: 200 },
    ];
    for (const c of cases) {
      const r = await profiles(c.body);
      assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
      // 422 bodies carry the issue list (api.md 0.4): path and message of each.
      const m = r.body.message;
      const text = Array.isArray(m) ? m.map((i: { path: string[]; message: string }) => `${i.path.join(".")}: ${i.message}`).join("; ") : String(m);
      if (c.message) assert.match(text, c.message, c.name);
    }
    const acme = await api(s.address, "GET", `/api/v1/cert-manager/certificate-profiles/slug/a4?projectId=${f.projectId}`, { token: s.adminToken });
    const detail = await api(s.address, "GET", `/api/v1/cert-manager/certificate-profiles/${acme.body.certificateProfile.id}`, { token: s.adminToken });
    assert.deepEqual({ ...detail.body.certificateProfile.acmeConfig, id: undefined, directoryUrl: undefined },
      { id: undefined, directoryUrl: undefined, skipDnsOwnershipVerification: false, skipEabBinding: true });
    assert.match(detail.body.certificateProfile.acmeConfig.directoryUrl, /\/api\/v1\/cert-manager\/acme\/profiles\/[0-9a-f-]+\/directory$/);
  });

  test("an API profile has no EST endpoint; API issuance refuses an EST profile", async () => {
    assert.equal(curl(`${f.profileSlug}/cacerts`).status, 404);
    const r = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token: s.adminToken, body: { profileId: estProfileId, attributes: { commonName: "x.example.com", ttl: "1d" } } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /does not allow API enrollment/);
  });
});
