import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createTlsServer, connect as tlsConnect } from "node:tls";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { PERMISSIVE_POLICY, setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl, opensslOk, scratch } from "../helpers/openssl.js";

const KEY_ALGORITHMS = ["RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"];
const RSA_SIGS = ["RSA-SHA256", "RSA-SHA384", "RSA-SHA512"];
const EC_SIGS = ["ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512"];

describe("PKI end to end (real server, real openssl)", () => {
  let s: TestServer;
  let ec: PkiFixture;
  let rsa: PkiFixture;
  let token: string;
  const files = scratch();

  const issue = (body: Record<string, unknown>, t = token) => api(s.address, "POST", "/api/v1/cert-manager/certificates", { token: t, body });
  const verify = (leaf: string, root: string, chain: string, ...extra: string[]) => {
    const tag = Math.random().toString(36).slice(2);
    return openssl("verify", "-x509_strict", ...extra, "-CAfile", files.write(`root-${tag}.pem`, root), "-untrusted", files.write(`chain-${tag}.pem`, chain), files.write(`leaf-${tag}.pem`, leaf));
  };
  const count = async (f: PkiFixture) => (await api(s.address, "GET", `/api/v1/cert-manager/certificates?projectId=${f.projectId}`, { token: s.adminToken })).body.totalCount;

  before(async () => {
    s = await startServer();
    ec = await setupPki(s, { projectSlug: "pki-ec", keyAlgorithm: "EC_prime256v1" });
    rsa = await setupPki(s, { projectSlug: "pki-rsa", keyAlgorithm: "RSA_2048" });
    // One identity that is a member of both projects keeps the matrix short.
    token = await login(s.address, ec.clientId, ec.clientSecret);
    await api(s.address, "POST", `/api/v1/projects/${rsa.projectId}/memberships/identities/${ec.identityId}`, { token: s.adminToken, body: { roles: [{ role: "member", isTemporary: false }] } });
  });
  after(() => s.cleanup());

  for (const keyAlgorithm of KEY_ALGORITHMS)
    for (const [caName, sigs] of [["ec", EC_SIGS], ["rsa", RSA_SIGS]] as const)
      test(`${keyAlgorithm} leaf from the ${caName} intermediate: every compatible signature verifies`, async () => {
        const f = caName === "ec" ? ec : rsa;
        // The RSA_4096 leaf only once per CA (its key takes seconds); the others with every signature.
        for (const signatureAlgorithm of keyAlgorithm === "RSA_4096" ? [sigs[2]] : sigs) {
          const r = await issue({
            profileId: f.profileId, removeRootsFromChain: true,
            attributes: { commonName: "api.example.com", altNames: [{ type: "dns_name", value: "api.example.com" }, { type: "ip_address", value: "127.0.0.1" }],
              keyUsages: ["digital_signature", "key_encipherment"], extendedKeyUsages: ["server_auth"], keyAlgorithm, signatureAlgorithm, ttl: "30d" },
          });
          assert.equal(r.status, 200, r.text);
          const c = r.body.certificate;
          assert.match(c.privateKey, /BEGIN PRIVATE KEY/);
          assert.match(c.serialNumber, /^[0-9a-f]{39,40}$/);
          assert.equal(r.body.status, "issued");
          const v = verify(c.certificate, f.rootCaPem, c.certificateChain, "-purpose", "sslserver");
          assert.equal(v.status, 0, v.out);
          const text = opensslOk("x509", "-noout", "-text", "-in", files.write("t.pem", c.certificate));
          assert.match(text, new RegExp(signatureAlgorithm.startsWith("RSA") ? `${signatureAlgorithm.split("-")[1]!.toLowerCase()}WithRSAEncryption` : `ecdsa-with-${signatureAlgorithm.split("-")[1]}`));
          assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
          assert.match(text, /CA:FALSE/);
          assert.equal(opensslOk("pkey", "-in", files.write("k.pem", c.privateKey), "-pubout"), opensslOk("x509", "-in", files.path("t.pem"), "-pubkey", "-noout"), "key matches certificate");
          assert.doesNotMatch(c.certificateChain, new RegExp(f.rootCaPem.split("\n")[1]!), "root removed from chain");
        }
      });

  test("an RSA signature from an EC issuer is refused and says why", async () => {
    const r = await issue({ profileId: ec.profileId, attributes: { commonName: "a.example.com", keyAlgorithm: "EC_prime256v1", signatureAlgorithm: "RSA-SHA256", ttl: "1d", keyUsages: ["digital_signature"] } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /RSA-SHA256.*(EC|ECDSA)|EC.*RSA-SHA256/i);
  });

  test("the chain keeps the root unless removeRootsFromChain, top-level or in attributes", async () => {
    const base = { profileId: ec.profileId, attributes: { commonName: "chain.example.com", keyAlgorithm: "EC_prime256v1", ttl: "1d", keyUsages: ["digital_signature"] } };
    const withRoot = (await issue(base)).body.certificate.certificateChain;
    assert.equal((withRoot.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
    const viaAttr = (await issue({ ...base, attributes: { ...base.attributes, removeRootsFromChain: true } })).body.certificate.certificateChain;
    assert.equal((viaAttr.match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
  });

  test("self-signed profile: a key pair signed by itself", async () => {
    const f = await setupPki(s, { projectSlug: "pki-self", issuerType: "self-signed" });
    const t = await login(s.address, f.clientId, f.clientSecret);
    const r = await issue({ profileId: f.profileId, attributes: { commonName: "self.example.com", altNames: [{ type: "dns_name", value: "self.example.com" }], keyAlgorithm: "EC_secp384r1", ttl: "7d", keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"] } }, t);
    assert.equal(r.status, 200, r.text);
    const pem = r.body.certificate.certificate;
    const v = openssl("verify", "-CAfile", files.write("self.pem", pem), files.path("self.pem"));
    assert.equal(v.status, 0, v.out);
    const subj = opensslOk("x509", "-noout", "-subject", "-issuer", "-in", files.path("self.pem"));
    assert.match(subj, /subject=CN = self.example.com\nissuer=CN = self.example.com/);
  });

  test("CSR: subject, SANs and key come from the CSR; no private key returned", async () => {
    opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", files.path("csr.key"), "-out", files.path("req.csr"),
      "-subj", "/CN=csr.example.com", "-addext", "subjectAltName=DNS:csr.example.com");
    const csr = opensslOk("req", "-in", files.path("req.csr"));
    const r = await issue({ profileId: ec.profileId, csr, attributes: { ttl: "10d", keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.certificate.privateKey, undefined);
    const leaf = files.write("csr-leaf.pem", r.body.certificate.certificate);
    assert.equal(opensslOk("x509", "-in", leaf, "-pubkey", "-noout"), opensslOk("pkey", "-in", files.path("csr.key"), "-pubout"));
    const renew = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${r.body.certificate.certificateId}/renew`, { token, body: {} });
    assert.equal(renew.status, 400);
    assert.match(renew.body.message, /CSR/);
    const key = await api(s.address, "GET", `/api/v1/cert-manager/certificates/${r.body.certificate.certificateId}/private-key`, { token });
    assert.equal(key.status, 404);
  });

  test("a CSR cannot smuggle SANs, CA:true or key usages past the policy", async () => {
    const before = await count(ec);
    const cases: [string, string[]][] = [
      ["extra SAN", ["-subj", "/CN=ok.example.com", "-addext", "subjectAltName=DNS:ok.example.com,DNS:evil.org"]],
      ["CA:true", ["-subj", "/CN=ok.example.com", "-addext", "basicConstraints=critical,CA:TRUE"]],
      ["keyCertSign", ["-subj", "/CN=ok.example.com", "-addext", "keyUsage=critical,digitalSignature,keyCertSign"]],
      ["email SAN (no rule)", ["-subj", "/CN=ok.example.com", "-addext", "subjectAltName=email:a@example.com"]],
      ["emailAddress in subject", ["-subj", "/CN=ok.example.com/emailAddress=a@example.com"]],
    ];
    for (const [name, args] of cases) {
      opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", files.path("s.key"), "-out", files.path("s.csr"), ...args);
      const r = await issue({ profileId: ec.profileId, csr: opensslOk("req", "-in", files.path("s.csr")), attributes: { ttl: "1d", keyUsages: ["digital_signature"] } });
      assert.equal(r.status, 400, `${name}: ${r.text}`);
      assert.equal(r.body.error, "PolicyViolationError", name);
    }
    assert.equal(await count(ec), before, "nothing recorded");
  });

  test("bad input is refused with a message naming the rule, and nothing is recorded", async () => {
    const before = await count(ec);
    const attrs = { commonName: "x.example.com", keyAlgorithm: "EC_prime256v1", keyUsages: ["digital_signature"] };
    const cases: [string, Record<string, unknown>, number, RegExp][] = [
      ["malformed CSR", { profileId: ec.profileId, csr: "-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----" }, 400, /csr/i],
      ["unknown profile", { profileId: "00000000-0000-4000-8000-000000000000", attributes: attrs }, 404, /profile/i],
      ["TTL over the policy maximum", { profileId: ec.profileId, attributes: { ...attrs, ttl: "400d" } }, 400, /validity/],
      ["bad TTL syntax", { profileId: ec.profileId, attributes: { ...attrs, ttl: "10 parsecs" } }, 400, /attributes\.ttl/],
      ["a SAN type the policy does not allow", { profileId: ec.profileId, attributes: { ...attrs, ttl: "1d", altNames: [{ type: "uri", value: "spiffe://x/y" }] } }, 400, /sans\.uri/],
      ["an IP address as a DNS name", { profileId: ec.profileId, attributes: { ...attrs, ttl: "1d", altNames: [{ type: "dns_name", value: "127.0.0.1" }] } }, 400, /dns_name|IP/i],
      ["unknown key usage", { profileId: ec.profileId, attributes: { ...attrs, ttl: "1d", keyUsages: ["world_domination"] } }, 400, /keyUsages/],
      ["ttl together with notAfter", { profileId: ec.profileId, attributes: { ...attrs, ttl: "1d", notAfter: "2030-01-01T00:00:00Z" } }, 400, /ttl/],
      ["past the CA's notAfter", { profileId: ec.profileId, attributes: { ...attrs, ttl: "3650d" } }, 400, /validity|notAfter/],
      ["wrong type", { profileId: ec.profileId, attributes: { ...attrs, ttl: 30 } }, 422, /./],
    ];
    for (const [name, body, status, message] of cases) {
      const r = await issue(body);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.match(typeof r.body.message === "string" ? r.body.message : JSON.stringify(r.body.message), message, name);
    }
    opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", files.path("w.key"), "-out", files.path("w.csr"), "-subj", "/CN=w.example.com");
    const der = Buffer.from(opensslOk("req", "-in", files.path("w.csr"), "-outform", "PEM").split("\n").filter((l) => l && !l.startsWith("-----")).join(""), "base64");
    der[der.length - 5] ^= 0xff; // corrupt the signature
    const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    const r = await issue({ profileId: ec.profileId, csr: bad, attributes: { ttl: "1d" } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.message, /signature/i);
    assert.equal(await count(ec), before, "nothing recorded");
  });

  test("a CSR's OCSP must-staple (TLS Feature status_request) is carried into the certificate; an unknown TLS feature is refused", async () => {
    const csr = (name: string, features: string) => {
      opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", files.path(`${name}.key`), "-out", files.path(`${name}.csr`),
        "-subj", `/CN=${name}.example.com`, "-addext", `subjectAltName=DNS:${name}.example.com`, "-addext", `tlsfeature=${features}`);
      return opensslOk("req", "-in", files.path(`${name}.csr`));
    };
    const attributes = { ttl: "1d", keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"] };
    const r = await issue({ profileId: ec.profileId, csr: csr("staple", "status_request"), attributes });
    assert.equal(r.status, 200, r.text);
    const cert = r.body.certificate.certificate;
    const text = opensslOk("x509", "-in", files.write("staple.pem", cert), "-noout", "-text");
    assert.match(text, /TLS Feature: *\n *status_request\n/);
    assert.doesNotMatch(text, /TLS Feature: critical/);
    const v = verify(cert, ec.rootCaPem, ec.intermediateCaPem);
    assert.equal(v.status, 0, v.out);
    const before = await count(ec);
    const bad = await issue({ profileId: ec.profileId, csr: csr("odd-feature", "status_request,24"), attributes });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /tlsFeature: \\"24\\" is not supported, so no policy can permit it/);
    assert.equal(await count(ec), before, "nothing recorded");
  });

  test("revocation shows in the CRL and in OCSP; renew gives a new serial", async () => {
    const r = await issue({ profileId: ec.profileId, attributes: { commonName: "rev.example.com", altNames: [{ type: "dns_name", value: "rev.example.com" }], keyAlgorithm: "EC_prime256v1", ttl: "5d", keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"] } });
    const c = r.body.certificate;
    const leaf = files.write("rev.pem", c.certificate);
    const issuer = files.write("issuer.pem", ec.intermediateCaPem);
    const root = files.write("root.pem", ec.rootCaPem);
    const ocspUrl = opensslOk("x509", "-in", leaf, "-noout", "-ocsp_uri").trim();
    const ocsp = () => openssl("ocsp", "-issuer", issuer, "-cert", leaf, "-url", ocspUrl, "-CAfile", root, "-verify_other", issuer);
    let o = ocsp();
    assert.match(o.out, /rev\.pem: good/, o.out);
    assert.match(o.out, /Response verify OK/);
    // The root's responder knows the intermediate it signed (a whole-chain OCSP check does not stop at "unknown").
    const rootOcsp = openssl("ocsp", "-issuer", root, "-cert", issuer, "-url", `${s.address}/api/v1/pki/ocsp/${ec.rootCaId}`, "-CAfile", root);
    assert.match(rootOcsp.out, /issuer\.pem: good/, rootOcsp.out);
    assert.match(rootOcsp.out, /Response verify OK/);

    const renewed = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${c.certificateId}/renew`, { token, body: { removeRootsFromChain: true } });
    assert.equal(renewed.status, 200, renewed.text);
    assert.notEqual(renewed.body.serialNumber, c.serialNumber);
    assert.notEqual(renewed.body.certificateId, c.certificateId);
    assert.match(renewed.body.privateKey, /BEGIN PRIVATE KEY/);
    const subj = opensslOk("x509", "-noout", "-subject", "-in", files.write("renewed.pem", renewed.body.certificate));
    assert.match(subj, /CN = rev.example.com/);

    const rev = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${c.certificateId}/revoke`, { token, body: { revocationReason: "KEY_COMPROMISE" } });
    assert.equal(rev.status, 200, rev.text);
    const crlUrl = /URI:(\S+)/.exec(opensslOk("x509", "-in", leaf, "-noout", "-ext", "crlDistributionPoints"))![1]!;
    const crlDer = Buffer.from(await (await fetch(crlUrl)).arrayBuffer());
    const crl = files.write("crl.pem", opensslOk("crl", "-inform", "DER", "-in", files.write("crl.der", crlDer)));
    const crlVerify = openssl("crl", "-in", crl, "-noout", "-verify", "-CAfile", files.write("both.pem", ec.intermediateCaPem + ec.rootCaPem));
    assert.match(crlVerify.out, /verify OK/, crlVerify.out);
    const v = openssl("verify", "-crl_check", "-CRLfile", crl, "-CAfile", root, "-untrusted", issuer, leaf);
    assert.notEqual(v.status, 0);
    assert.match(v.out, /certificate revoked/);
    o = ocsp();
    assert.match(o.out, /rev\.pem: revoked/, o.out);
    assert.match(o.out, /keyCompromise/);
    const again = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${c.certificateId}/renew`, { token, body: {} });
    assert.equal(again.status, 400, "a revoked certificate is not renewed");
    const status = await api(s.address, "GET", `/api/v1/cert-manager/certificates/${c.certificateId}`, { token });
    assert.equal(status.body.certificate.status, "revoked");
    const pem = await api(s.address, "GET", `/api/v1/cert-manager/ca/internal/${ec.intermediateCaId}/crls`, { token });
    assert.match(pem.body[0].crl, /^-----BEGIN X509 CRL-----/);
  });

  test("a Node TLS server with an issued certificate; the client trusts only the root and checks the hostname", async () => {
    const r = await issue({ profileId: ec.profileId, removeRootsFromChain: true, attributes: { commonName: "localhost", altNames: [{ type: "dns_name", value: "localhost" }, { type: "ip_address", value: "127.0.0.1" }], keyAlgorithm: "EC_prime256v1", ttl: "1d", keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"] } });
    const c = r.body.certificate;
    const server = createTlsServer({ key: c.privateKey, cert: c.certificate + c.certificateChain }, (sock) => sock.end("hello"));
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    const port = (server.address() as { port: number }).port;
    const hello = (servername: string) => new Promise<string>((res, rej) => {
      const sock = tlsConnect({ host: "127.0.0.1", port, servername, ca: ec.rootCaPem }, () => { sock.once("data", (d) => { res(d.toString()); sock.end(); }); });
      sock.once("error", rej);
    });
    try {
      assert.equal(await hello("localhost"), "hello");
      await assert.rejects(hello("other.example.com"), /altnames|Hostname/i);
    } finally {
      server.close();
    }
  });

  test("inventory: filtered by status, common name and expiring-before; totalCount counts what matches, for paging", async () => {
    const list = (q: string) => api(s.address, "GET", `/api/v1/cert-manager/certificates?projectId=${ec.projectId}&${q}`, { token });
    const revoked = await list("status=revoked");
    assert.ok(revoked.body.certificates.length >= 1);
    assert.ok(revoked.body.certificates.every((c: { status: string }) => c.status === "revoked"));
    assert.equal(revoked.body.totalCount, revoked.body.certificates.length);
    const all = (await list("limit=1000")).body;
    assert.equal(all.totalCount, all.certificates.length);
    assert.ok(all.totalCount > revoked.body.totalCount);
    // Paging through the active ones: pages of 2 add up to totalCount, without repeats.
    const active = (await list("status=active&limit=1000")).body;
    const seen = new Set<string>();
    for (let offset = 0; offset < active.totalCount; offset += 2) {
      const page = (await list(`status=active&limit=2&offset=${offset}`)).body;
      assert.equal(page.totalCount, active.totalCount);
      for (const c of page.certificates as { id: string }[]) seen.add(c.id);
    }
    assert.equal(seen.size, active.totalCount);
    const byName = await list("commonName=chain.example.com");
    assert.ok(byName.body.certificates.length >= 2);
    assert.ok(byName.body.certificates.every((c: { commonName: string }) => c.commonName === "chain.example.com"));
    const soon = await list(`expiringBefore=${new Date(Date.now() + 3 * 86_400_000).toISOString()}`);
    assert.ok(soon.body.certificates.every((c: { notAfter: string }) => Date.parse(c.notAfter) < Date.now() + 3 * 86_400_000));
    assert.ok(soon.body.certificates.length >= 1);
  });

  test("certificate requests: listed newest first with their certificate, filtered, paged; no key material", async () => {
    const list = (q: string, t = token) => api(s.address, "GET", `/api/v1/cert-manager/certificates/certificate-requests?${q}`, { token: t });
    const mine = await issue({ profileId: ec.profileId, attributes: { commonName: "reqlist.example.com", altNames: [{ type: "dns_name", value: "reqlist.example.com" }], keyAlgorithm: "EC_prime256v1", ttl: "1d", keyUsages: ["digital_signature"] } });
    assert.equal(mine.status, 200, mine.text);
    const all = await list(`projectSlug=${ec.projectSlug}&limit=100`);
    assert.equal(all.status, 200, all.text);
    const first = all.body.certificateRequests[0];
    assert.equal(first.id, mine.body.certificateRequestId, "newest first");
    assert.deepEqual(
      { status: first.status, commonName: first.commonName, altNames: first.altNames, profileId: first.profileId, profileName: first.profileName, caId: first.caId, certificateId: first.certificateId, approvalRequestId: first.approvalRequestId, errorMessage: first.errorMessage },
      { status: "issued", commonName: "reqlist.example.com", altNames: "reqlist.example.com", profileId: ec.profileId, profileName: ec.profileSlug, caId: ec.intermediateCaId, certificateId: mine.body.certificate.certificateId, approvalRequestId: null, errorMessage: null },
    );
    assert.deepEqual(first.certificate, { id: mine.body.certificate.certificateId, serialNumber: mine.body.certificate.serialNumber, status: "active" });
    assert.ok(!all.text.includes("PRIVATE KEY") && !all.text.includes("BEGIN CERTIFICATE"), "no PEMs in the list");
    assert.equal(all.body.totalCount, all.body.certificateRequests.length);
    assert.ok(all.body.totalCount >= 3);
    const created = all.body.certificateRequests.map((r: { createdAt: string }) => r.createdAt);
    assert.deepEqual(created, [...created].sort().reverse());

    // By id, oldest first, paged: pages of 2 cover the whole list once.
    const seen: string[] = [];
    for (let offset = 0; offset < all.body.totalCount; offset += 2) {
      const page = await list(`projectId=${ec.projectId}&sortOrder=asc&limit=2&offset=${offset}`);
      assert.equal(page.body.totalCount, all.body.totalCount);
      seen.push(...page.body.certificateRequests.map((r: { id: string }) => r.id));
    }
    assert.deepEqual(seen, all.body.certificateRequests.map((r: { id: string }) => r.id).reverse());

    const found = await list(`projectSlug=${ec.projectSlug}&search=reqlist`);
    assert.deepEqual(found.body.certificateRequests.map((r: { id: string }) => r.id), [mine.body.certificateRequestId]);
    assert.equal(found.body.totalCount, 1);
    assert.equal((await list(`projectSlug=${ec.projectSlug}&status=failed`)).body.totalCount, 0);
    assert.equal((await list(`projectSlug=${ec.projectSlug}&status=issued`)).body.totalCount, all.body.totalCount);
    assert.equal((await list(`projectSlug=${ec.projectSlug}&profileIds=${ec.profileId}`)).body.totalCount, all.body.totalCount);
    assert.equal((await list(`projectSlug=${ec.projectSlug}&profileIds=${randomUUID()}`)).body.totalCount, 0);
    const since = await list(`projectSlug=${ec.projectSlug}&fromDate=${encodeURIComponent(first.createdAt)}`);
    assert.ok(since.body.certificateRequests.some((r: { id: string }) => r.id === first.id));
    assert.ok(since.body.totalCount < all.body.totalCount);
    assert.equal((await list(`projectSlug=${ec.projectSlug}&toDate=2000-01-01T00:00:00Z`)).body.totalCount, 0);

    // Schema errors are 422 with zod's issues (api.md), each naming its field; a date that does not parse is a 400.
    for (const [q, field, status] of [["limit=0", "limit", 422], ["limit=101", "limit", 422], ["profileIds=nope", "profileIds", 422], ["status=done", "status", 422], ["fromDate=yesterday", "fromDate", 400]] as const) {
      const r = await list(`projectSlug=${ec.projectSlug}&${q}`);
      assert.equal(r.status, status, q);
      assert.match(JSON.stringify(r.body.message), new RegExp(field), q);
    }
    assert.equal((await list("limit=5")).status, 400, "a project is required");
    assert.equal((await list("projectSlug=no-such-project")).status, 404);
  });

  test("a viewer cannot issue; an identity of another project cannot use the profile", async () => {
    const viewer = await createUaIdentity(s, "pki-viewer");
    await api(s.address, "POST", `/api/v1/projects/${ec.projectId}/memberships/identities/${viewer.identityId}`, { token: s.adminToken, body: { roles: [{ role: "viewer", isTemporary: false }] } });
    const vt = await login(s.address, viewer.clientId, viewer.clientSecret);
    const body = { profileId: ec.profileId, attributes: { commonName: "v.example.com", keyAlgorithm: "EC_prime256v1", ttl: "1d", keyUsages: ["digital_signature"] } };
    assert.equal((await issue(body, vt)).status, 403);
    const other = await createUaIdentity(s, "outsider");
    assert.equal((await issue(body, await login(s.address, other.clientId, other.clientSecret))).status, 403);
  });

  test("a policy that does not mention a usage denies it; policies accept both algorithm spellings", async () => {
    const p = await api(s.address, "POST", "/api/v1/cert-manager/certificate-policies", { token: s.adminToken, body: {
      projectId: ec.projectId, name: "strict", subject: [{ type: "common_name", allowed: ["*.example.com"] }],
      algorithms: { signature: ["ECDSA-SHA256"], keyAlgorithm: ["EC_prime256v1"] }, validity: { max: "1m" },
    } });
    assert.equal(p.status, 200, p.text);
    const bad = await api(s.address, "POST", "/api/v1/cert-manager/certificate-policies", { token: s.adminToken, body: { projectId: ec.projectId, name: "bad", validity: { max: "forever" } } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /validity\.max/);
    assert.ok(PERMISSIVE_POLICY);
  });
  test("a disabled CA issues nothing, though its signing context is cached; enabled again, it issues at once", async () => {
    const body = { profileId: ec.profileId, removeRootsFromChain: true, attributes: { commonName: "off.example.com", altNames: [{ type: "dns_name", value: "off.example.com" }],
      keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"], keyAlgorithm: "EC_prime256v1", ttl: "1d" } };
    const setStatus = (status: string) => api(s.address, "PATCH", `/api/v1/pki/ca/internal/${ec.intermediateCaId}`, { token: s.adminToken, body: { status } });
    assert.equal((await issue(body)).status, 200, "the CA's signing context is in use (cached)");
    const recorded = await count(ec);
    assert.equal((await setStatus("disabled")).status, 200);
    try {
      const r = await issue(body);
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.message, /Certificate authority '.+' is disabled, not active/);
      assert.equal(await count(ec), recorded, "nothing recorded");
    } finally {
      assert.equal((await setStatus("active")).status, 200);
    }
    assert.equal((await issue(body)).status, 200);
    assert.equal(await count(ec), recorded + 1);
  });
});
