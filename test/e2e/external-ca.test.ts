/**
 * External ACME CA end to end against pebble: the KMS answers `pending`, its worker orders from pebble, pebble
 * validates http-01 against the KMS's own listener (or dns-01 through our RFC 2136 UPDATEs relayed to
 * challtestsrv), and the certificate verifies against pebble's root. Failures and a restart mid-order too.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { api, startServer, type ApiResponse, type TestServer } from "../helpers/server.js";
import { setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl, scratch } from "../helpers/openssl.js";
import { needPebble, startPebble, type Pebble } from "../helpers/pebble.js";
import { startRfc2136Relay } from "../core/pki/external/rfc2136-relay.js";

let s: TestServer | undefined;
let pebble: Pebble | undefined;
let relay: Awaited<ReturnType<typeof startRfc2136Relay>> | undefined;
let fx: PkiFixture;
const TSIG = { name: "kms-key", secret: Buffer.from("a-test-tsig-secret-of-32-bytes!!") };

const profileFor = async (caId: string, slug: string) => {
  const r = await api(s!.address, "POST", "/api/v1/cert-manager/certificate-profiles", { token: s!.adminToken, body: {
    projectId: fx.projectId, certificatePolicyId: fx.policyId, caId, slug, enrollmentType: "api", issuerType: "ca", apiConfig: { autoRenew: false },
  } });
  assert.equal(r.status, 200, r.text);
  return r.body.certificateProfile.id as string;
};

const acmeCa = async (name: string, extra: Record<string, unknown> = {}) => {
  const r = await api(s!.address, "POST", "/api/v1/cert-manager/ca/acme", { token: s!.adminToken, body: {
    projectId: fx.projectId, name, directoryUrl: pebble!.directoryUrl, accountEmail: "pki@example.com", caBundle: pebble!.tlsCa, ...extra,
  } });
  assert.equal(r.status, 200, r.text);
  return r.body as { id: string; type: string; configuration: Record<string, unknown> };
};

const issue = async (profileId: string, cn: string) => {
  const r = await api(s!.address, "POST", "/api/v1/cert-manager/certificates", { token: s!.adminToken, body: {
    profileId, attributes: { commonName: cn, altNames: [{ type: "dns_name", value: cn }], keyAlgorithm: "EC_prime256v1", extendedKeyUsages: ["server_auth"] },
  } });
  assert.equal(r.status, 200, r.text);
  return r.body;
};

const poll = async (requestId: string, ms = 30_000) => {
  const statuses: string[] = [];
  for (const end = Date.now() + ms; Date.now() < end;) {
    const r = await api(s!.address, "GET", `/api/v1/cert-manager/certificates/certificate-requests/${requestId}`, { token: s!.adminToken });
    assert.equal(r.status, 200, r.text);
    statuses.push(r.body.status);
    if (r.body.status !== "pending") return { ...r.body, statuses };
    await new Promise((res) => setTimeout(res, 150));
  }
  throw new Error(`request ${requestId} still pending after ${ms} ms`);
};

const verifyAgainstPebble = async (r: { certificate: string; certificateChain: string; privateKey: string }) => {
  const dir = scratch();
  const root = await pebble!.root();
  assert.match(root, /BEGIN CERTIFICATE/);
  const v = openssl("verify", "-CAfile", dir.write("root.pem", root), "-untrusted", dir.write("chain.pem", r.certificateChain), dir.write("leaf.pem", r.certificate));
  assert.equal(v.status, 0, v.out);
  const pub = (f: string, ...a: string[]) => openssl(...a, "-in", f, "-pubkey", "-noout").out;
  assert.equal(openssl("pkey", "-in", dir.write("key.pem", r.privateKey), "-pubout").out, pub(dir.path("leaf.pem"), "x509"));
};

before(async (t) => {
  if (!needPebble(t as never)) return;
  s = await startServer({ env: { KMS_EXTERNAL_CA_POLL_MS: "150" } });
  pebble = await startPebble(Number(new URL(s.address).port));
  relay = await startRfc2136Relay({ tsig: TSIG, challtestsrv: pebble.challtestsrv });
  fx = await setupPki(s);
});
after(async () => { await relay?.close(); await pebble?.stop(); await s?.cleanup(); });

test("http-01: issue answers pending, the worker orders from pebble, the request becomes issued and verifies against pebble's root", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const ca = await acmeCa("pebble-http");
  assert.equal(ca.type, "acme");
  assert.equal(JSON.stringify(ca).includes("PRIVATE KEY"), false, "the account key never leaves the server");
  const profileId = await profileFor(ca.id, "pebble-http");
  const prof = await api(s.address, "GET", `/api/v1/cert-manager/certificate-profiles/${profileId}`, { token: s.adminToken });
  assert.deepEqual([prof.body.certificateProfile.certificateAuthority.isExternal, prof.body.certificateProfile.certificateAuthority.externalType], [true, "acme"]);
  const internal = await api(s.address, "GET", `/api/v1/cert-manager/ca/internal?projectId=${fx.projectId}`, { token: s.adminToken });
  assert.equal(internal.body.some((c: { id: string }) => c.id === ca.id), false, "an ACME CA is not listed as internal");
  const listed = await api(s.address, "GET", `/api/v1/cert-manager/ca/acme?projectId=${fx.projectId}`, { token: s.adminToken });
  assert.ok(listed.body.some((c: { id: string }) => c.id === ca.id));
  const first = await issue(profileId, "web.example.com");
  assert.equal(first.certificate, null);
  assert.equal(first.status, "pending");
  const done = await poll(first.certificateRequestId);
  assert.equal(done.statuses[0], "pending");
  assert.equal(done.status, "issued", done.errorMessage);
  assert.ok(done.certificateId && done.serialNumber);
  await verifyAgainstPebble(done);
  const inv = await api(s.address, "GET", `/api/v1/cert-manager/certificates/${done.certificateId}`, { token: s.adminToken });
  assert.equal(inv.status, 200);
  assert.equal(inv.body.certificate.commonName, "web.example.com");
  assert.equal(inv.body.certificate.status, "active");
});

test("the policy check happens before anything is ordered: a name outside the policy is a 400", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const ca = await acmeCa("pebble-policy");
  const profileId = await profileFor(ca.id, "pebble-policy");
  const r = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token: s.adminToken, body: { profileId, attributes: { commonName: "evil.test" } } });
  assert.equal(r.status, 400, r.text);
});

test("a failed http-01 challenge fails the request with the CA's reason", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  // challtestsrv sends this name to 127.0.0.2, where nothing listens: pebble's validation cannot connect.
  await fetch(`${pebble!.challtestsrv}/add-a`, { method: "POST", body: JSON.stringify({ host: "broken.example.com.", addresses: ["127.0.0.2"] }) });
  const ca = await acmeCa("pebble-fail");
  const profileId = await profileFor(ca.id, "pebble-fail");
  const first = await issue(profileId, "broken.example.com");
  const done = await poll(first.certificateRequestId);
  assert.equal(done.status, "failed");
  assert.equal(done.certificate, null);
  assert.match(done.errorMessage, /ACME CA 'pebble-fail' refused the order: .*http-01 challenge for broken\.example\.com failed/);
});

test("dns-01 through RFC 2136 with TSIG: pebble finds the TXT record our UPDATE published; the record is removed afterwards", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const ca = await acmeCa("pebble-dns", { challengeType: "dns-01", dnsProvider: { type: "rfc2136", server: relay!.address, zone: "example.com", tsigKeyName: TSIG.name, tsigSecret: TSIG.secret.toString("base64") } });
  assert.equal(JSON.stringify(ca).includes(TSIG.secret.toString("base64")), false, "the TSIG secret is not echoed");
  const profileId = await profileFor(ca.id, "pebble-dns");
  const first = await issue(profileId, "dns.example.com");
  const done = await poll(first.certificateRequestId);
  assert.equal(done.status, "issued", done.errorMessage);
  await verifyAgainstPebble(done);
  const ops = relay!.seen.flatMap((u) => u.changes.map((c) => `${u.tsig} ${c.op} ${c.name}`));
  assert.deepEqual(ops, ["ok add _acme-challenge.dns.example.com", "ok delete _acme-challenge.dns.example.com"]);
});

test("a KMS restart mid-order: the order placed before the restart completes after it", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const ca = await acmeCa("pebble-restart", { challengeType: "dns-01", dnsProvider: { type: "rfc2136", server: relay!.address, zone: "example.com", tsigKeyName: TSIG.name, tsigSecret: TSIG.secret.toString("base64") } });
  const profileId = await profileFor(ca.id, "pebble-restart");
  const first = await issue(profileId, "restart.example.com");
  // Wait until the worker has placed the order upstream (its URL is in the database), then restart.
  const db = new Database(join(s.dataDir, "kms.sqlite"), { readonly: true, fileMustExist: true });
  try {
    for (let i = 0; i < 200; i++) {
      const row = db.prepare("select order_url, state from external_orders where request_id = ?").get(first.certificateRequestId) as { order_url: string | null; state: string } | undefined;
      if (row?.order_url) break;
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally { db.close(); }
  await s.restart();
  const done = await poll(first.certificateRequestId);
  assert.equal(done.status, "issued", done.errorMessage);
  await verifyAgainstPebble(done);
});

test("a request never stays pending: an unreachable directory times out into failed", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const r = await api(s.address, "POST", "/api/v1/cert-manager/ca/acme", { token: s.adminToken, body: {
    projectId: fx.projectId, name: "nowhere", directoryUrl: "https://127.0.0.1:9/dir", accountEmail: "pki@example.com", orderTimeoutSeconds: 2,
  } });
  assert.equal(r.status, 200, r.text);
  const profileId = await profileFor(r.body.id, "nowhere");
  const first = await issue(profileId, "late.example.com");
  const done = await poll(first.certificateRequestId, 15_000);
  assert.equal(done.status, "failed");
  assert.match(done.errorMessage, /Timed out after 2s waiting for ACME CA 'nowhere'; last error: .*ECONNREFUSED/);
});

test("ACME and EST profiles cannot issue from an external CA: refused at creation and on PATCH, nothing stored", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const ca = await acmeCa("pebble-not-for-enrollment");
  const profile = (body: Record<string, unknown>) => api(s!.address, "POST", "/api/v1/cert-manager/certificate-profiles", { token: s!.adminToken, body: {
    projectId: fx.projectId, certificatePolicyId: fx.policyId, issuerType: "ca", ...body,
  } });
  for (const [enrollmentType, extra] of [["acme", {}], ["est", { estConfig: { passphrase: "est-passphrase-1" } }]] as const) {
    const r = await profile({ slug: `ext-${enrollmentType}`, caId: ca.id, enrollmentType, ...extra });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.message, new RegExp(`caId: 'pebble-not-for-enrollment' is an external acme CA, which issues asynchronously; only enrollmentType "api" can use it`));
  }
  // An ACME profile on the internal CA may not be pointed at the external one either.
  const acmeProfile = await profile({ slug: "int-acme", caId: fx.intermediateCaId, enrollmentType: "acme" });
  assert.equal(acmeProfile.status, 200, acmeProfile.text);
  const id = acmeProfile.body.certificateProfile.id;
  const patched = await api(s!.address, "PATCH", `/api/v1/cert-manager/certificate-profiles/${id}`, { token: s!.adminToken, body: { caId: ca.id } });
  assert.equal(patched.status, 400, patched.text);
  const after = await api(s!.address, "GET", `/api/v1/cert-manager/certificate-profiles/${id}`, { token: s!.adminToken });
  assert.equal(after.body.certificateProfile.caId, fx.intermediateCaId);
  const slugs = (await api(s!.address, "GET", `/api/v1/cert-manager/certificate-profiles?projectId=${fx.projectId}`, { token: s!.adminToken })).body.certificateProfiles.map((p: { slug: string }) => p.slug);
  assert.ok(!slugs.includes("ext-acme") && !slugs.includes("ext-est"), slugs.join(","));
});

test("external account binding: a pebble that requires EAB issues with the CA's eabKid/eabHmacKey and fails clearly without them", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
  const eabPebble = await startPebble(Number(new URL(s.address).port), { eab: { "kid-1": hmac } });
  try {
    const make = async (name: string, extra: Record<string, unknown>) => {
      const r = await api(s!.address, "POST", "/api/v1/cert-manager/ca/acme", { token: s!.adminToken, body: {
        projectId: fx.projectId, name, directoryUrl: eabPebble.directoryUrl, accountEmail: "pki@example.com", caBundle: eabPebble.tlsCa, ...extra,
      } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text.includes(hmac), false, "the EAB key is never echoed");
      return profileFor(r.body.id, name);
    };
    const withEab = await make("pebble-eab", { eabKid: "kid-1", eabHmacKey: hmac });
    const ok = await poll((await issue(withEab, "eab.example.com")).certificateRequestId);
    assert.equal(ok.status, "issued", ok.errorMessage);
    const dir = scratch();
    const v = openssl("verify", "-CAfile", dir.write("root.pem", await eabPebble.root()), "-untrusted", dir.write("chain.pem", ok.certificateChain), dir.write("leaf.pem", ok.certificate));
    assert.equal(v.status, 0, v.out);
    const without = await make("pebble-no-eab", {});
    const bad = await poll((await issue(without, "noeab.example.com")).certificateRequestId);
    assert.equal(bad.status, "failed");
    assert.match(bad.errorMessage, /requires external account binding .*set eabKid and eabHmacKey on the CA/);
  } finally { await eabPebble.stop(); }
});

test("the client's CSR is what the upstream CA signs: its key is in the certificate and no private key comes back", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const ca = await acmeCa("pebble-csr");
  const profileId = await profileFor(ca.id, "pebble-csr");
  const dir = scratch();
  const made = openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir.path("k.pem"), "-out", dir.path("csr.pem"),
    "-subj", "/CN=csr.example.com", "-addext", "subjectAltName=DNS:csr.example.com");
  assert.equal(made.status, 0, made.out);
  const r = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token: s.adminToken, body: { profileId, csr: readFileSync(dir.path("csr.pem"), "utf8") } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, "pending");
  const done = await poll(r.body.certificateRequestId);
  assert.equal(done.status, "issued", done.errorMessage);
  assert.equal(done.privateKey, null);
  const pub = (args: string[]) => openssl(...args).out;
  assert.equal(pub(["x509", "-in", dir.write("leaf.pem", done.certificate), "-pubkey", "-noout"]), pub(["pkey", "-in", dir.path("k.pem"), "-pubout"]));
});

test("a CA record that cannot work is refused at creation, naming the field", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const base = { projectId: fx.projectId, directoryUrl: pebble!.directoryUrl, accountEmail: "pki@example.com" };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ name: "bad-1", eabKid: "kid-1" }, /eabKid and eabHmacKey: give both or neither/],
    [{ name: "bad-2", challengeType: "dns-01" }, /dnsProvider: required when challengeType is "dns-01"/],
    [{ name: "bad-3", dnsProvider: { type: "rfc2136", server: "ns1.example.com", zone: "example.com" } }, /dnsProvider: server: must be host:port/],
    [{ name: "bad-4", dnsProvider: { type: "rfc2136", server: "127.0.0.1:53", zone: "example.com", tsigKeyName: "k" } }, /dnsProvider.tsigSecret: required/],
    [{ name: "bad-5", dnsProvider: { type: "route53" } }, /dnsProvider: type: /],
    [{ name: "bad-6", directoryUrl: "ftp://example.com/dir" }, /directoryUrl: must be an https/],
    [{ name: "bad-7", caBundle: "not pem" }, /caBundle: expected PEM certificates/],
    [{ name: "bad-8", dnsProvider: { type: "rfc2136", server: "127.0.0.1:53", zone: "example.com", tsigkeyName: "k", tsigSecret: "c2VjcmV0" } }, /dnsProvider: tsigkeyName: Unrecognized key/],
    [{ name: "bad-9", dnsProvider: { type: "rfc2136", server: "127.0.0.1:53", zone: "example.com", tsigKeyName: "k", tsigSecret: 12345 } }, /dnsProvider.tsigSecret: must be the base64 secret/],
    [{ name: "bad-11", challengeType: "http-01", dnsProvider: { type: "rfc2136", server: "127.0.0.1:53", zone: "example.com" } }, /dnsProvider: only used with challengeType "dns-01", not "http-01"/],
    [{ name: "bad-10", dnsProvider: { type: "rfc2136", server: "127.0.0.1:53", zone: "example.com", tsigKeyName: "k", tsigSecret: "not base64!" } }, /dnsProvider.tsigSecret: must be the base64 secret/],
    [{ name: "pebble-http" }, /already exists/],
  ];
  for (const [fields, expect] of cases) {
    const r: ApiResponse = await api(s.address, "POST", "/api/v1/cert-manager/ca/acme", { token: s.adminToken, body: { ...base, ...fields } });
    assert.equal(r.status, 400, `${JSON.stringify(fields)}: ${r.text}`);
    assert.match(r.body.message, expect);
  }
});

test("a DNS server that refuses the RFC 2136 UPDATE fails the request at once, quoting its answer", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const wrong = Buffer.from("not-the-secret-the-server-knows!").toString("base64");
  const ca = await acmeCa("pebble-dns-refused", { challengeType: "dns-01", dnsProvider: { type: "rfc2136", server: relay!.address, zone: "example.com", tsigKeyName: TSIG.name, tsigSecret: wrong } });
  const profileId = await profileFor(ca.id, "pebble-dns-refused");
  // The default orderTimeoutSeconds (1800): the failure must not wait for it.
  const done = await poll((await issue(profileId, "refused.example.com")).certificateRequestId, 10_000);
  assert.equal(done.status, "failed");
  assert.match(done.errorMessage, /^dns-01 for ACME CA 'pebble-dns-refused' failed: RFC 2136 add of TXT _acme-challenge\.refused\.example\.com at 127\.0\.0\.1:\d+ refused: NOTAUTH/);
});

test("names the CA's challenge cannot prove are refused with a 400 before anything is ordered", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const http = await profileFor((await acmeCa("pebble-fit-http")).id, "pebble-fit-http");
  const dns = await profileFor((await acmeCa("pebble-fit-dns", { challengeType: "dns-01", dnsProvider: { type: "rfc2136", server: relay!.address, zone: "other.example.com", tsigKeyName: TSIG.name, tsigSecret: TSIG.secret.toString("base64") } })).id, "pebble-fit-dns");
  const updatesBefore = relay!.seen.length;
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [http, { commonName: "*.example.com", altNames: [{ type: "dns_name", value: "*.example.com" }] }, /^attributes: "\*\.example\.com" is a wildcard, which ACME validates only with dns-01; ACME CA 'pebble-fit-http' uses http-01/],
    [dns, { commonName: "www.example.com", altNames: [{ type: "dns_name", value: "www.example.com" }] }, /^attributes: "www\.example\.com" is not in the zone other\.example\.com where ACME CA 'pebble-fit-dns' publishes its dns-01 records/],
    [dns, { commonName: "other.example.com", altNames: [{ type: "dns_name", value: "other.example.com" }, { type: "ip_address", value: "127.0.0.1" }] }, /^attributes: ACME cannot validate the IP address 127\.0\.0\.1 with dns-01/],
  ];
  for (const [profileId, attributes, expect] of cases) {
    const r: ApiResponse = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token: s.adminToken, body: { profileId, attributes: { keyAlgorithm: "EC_prime256v1", ...attributes } } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.message, expect);
  }
  assert.equal(relay!.seen.length, updatesBefore, "no DNS UPDATE was sent");
});

test("a directoryUrl that is not an ACME directory fails the request at once, not at its deadline", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  for (const [name, path, expect] of [
    ["not-found-dir", "/no/such/directory", /^ACME CA 'not-found-dir' refused the request: the ACME directory .* answered HTTP 404: check directoryUrl/],
    ["not-a-dir", "/api/status", /^ACME CA 'not-a-dir' refused the request: .* is not an ACME directory \(RFC 8555 7\.1\.1\): check directoryUrl/],
  ] as const) {
    const r: ApiResponse = await api(s.address, "POST", "/api/v1/cert-manager/ca/acme", { token: s.adminToken, body: { projectId: fx.projectId, name, directoryUrl: `${s.address}${path}`, accountEmail: "pki@example.com" } });
    assert.equal(r.status, 200, r.text);
    const done = await poll((await issue(await profileFor(r.body.id, name), `${name}.example.com`)).certificateRequestId, 10_000);
    assert.equal(done.status, "failed");
    assert.match(done.errorMessage, expect);
  }
});

test("revoking a certificate ordered from an external CA revokes it at that CA first, with the reason", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const ca = await acmeCa("pebble-revoke");
  const profileId = await profileFor(ca.id, "pebble-revoke");
  const done = await poll((await issue(profileId, "revoke.example.com")).certificateRequestId);
  assert.equal(done.status, "issued", done.errorMessage);
  assert.equal((await pebble!.certStatus(done.serialNumber)).Status, "Valid");
  const rev = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${done.certificateId}/revoke`, { token: s.adminToken, body: { revocationReason: "KEY_COMPROMISE" } });
  assert.equal(rev.status, 200, rev.text);
  const upstream = await pebble!.certStatus(done.serialNumber);
  assert.deepEqual([upstream.Status, upstream.Reason], ["Revoked", 1], "pebble has it revoked for keyCompromise (RFC 5280 code 1)");
  const inv = await api(s.address, "GET", `/api/v1/cert-manager/certificates/${done.certificateId}`, { token: s.adminToken });
  assert.equal(inv.body.certificate.status, "revoked");
});

// Last in this file: it stops pebble.
test("when the external CA cannot be reached, revocation fails with 502 naming the CA, and nothing changes here", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const ca = await acmeCa("pebble-gone");
  const profileId = await profileFor(ca.id, "pebble-gone");
  const done = await poll((await issue(profileId, "gone.example.com")).certificateRequestId);
  assert.equal(done.status, "issued", done.errorMessage);
  await pebble!.stop();
  const rev = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${done.certificateId}/revoke`, { token: s.adminToken, body: { revocationReason: "SUPERSEDED" } });
  assert.equal(rev.status, 502, rev.text);
  assert.match(rev.body.message, /ACME CA 'pebble-gone' did not revoke certificate /);
  const inv = await api(s.address, "GET", `/api/v1/cert-manager/certificates/${done.certificateId}`, { token: s.adminToken });
  assert.equal(inv.body.certificate.status, "active", "not marked revoked here while the CA still has it valid");
});
