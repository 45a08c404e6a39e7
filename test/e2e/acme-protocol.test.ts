/**
 * ACME protocol details that certbot and lego never exercise on purpose (bad nonces, foreign keys, key
 * rollover, deactivation, revocation by certificate key, rate limits), against a real `kms server`, with a
 * small JOSE client (test/core/acme/client.ts) and openssl-made CSRs.
 */
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { PERMISSIVE_POLICY, setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl, opensslOk, scratch } from "../helpers/openssl.js";
import { freePort, startTxtDns } from "../core/acme/fixtures.js";
import { acmeClient, keyFromPem, newKey, sign, type AcmeClient, type AcmeKey } from "../core/acme/client.js";
import { certificateIdOf } from "../../src/core/acme/ari.js";
import { dns01Value, keyAuthorization, thumbprintOf } from "../../src/core/acme/jws.js";

const ERR = "urn:ietf:params:acme:error:";
const ORDERS_PER_HOUR = 12;
const POLICY = {
  ...PERMISSIVE_POLICY,
  sans: [
    { type: "dns_name", allowed: ["*.example.com"], denied: ["blocked.example.com"] },
    { type: "ip_address", allowed: ["127.0.0.1"] },
  ],
};

// Both databases: nonces, accounts and orders are rows, and several PostgreSQL-backed servers share them.
const suite = (backend: "sqlite" | "postgres") => describe(`ACME protocol details against a real server (${backend})`, { concurrency: false }, () => {
  let s: TestServer;
  let pg: ReturnType<typeof createPgDatabase> | undefined;
  let skip = false;
  /** A test that is skipped, loudly, when its database is not there (needService decides, CI fails instead). */
  const check = (name: string, fn: (t: TestContext) => Promise<void>) => test(name, (t) => (skip ? t.skip("postgres unavailable") : fn(t)));
  let f: PkiFixture;
  const files = scratch("kms-acme-proto-");
  const tokens = new Map<string, string>();
  /** A token whose http-01 fetch is left unanswered (the validation hangs), and what to call when the fetch arrives. */
  let holding: { token: string; arrived: (res: ServerResponse) => void } | undefined;
  let http01: Server;
  const txt = new Map<string, string[]>();
  let dns: Awaited<ReturnType<typeof startTxtDns>>;
  const dirs: Record<string, string> = {};
  const eabs: Record<string, { kid: string; hmacKey: string }> = {};

  const profile = async (slug: string, acmeConfig: Record<string, unknown>) => {
    const p = await api(s.address, "POST", "/api/v1/cert-manager/certificate-profiles", { token: s.adminToken, body: {
      projectId: f.projectId, certificatePolicyId: f.policyId, slug, enrollmentType: "acme", caId: f.intermediateCaId, acmeConfig,
    } });
    assert.equal(p.status, 200, p.text);
    const id = p.body.certificateProfile.id as string;
    const cred = await api(s.address, "POST", `/api/v1/cert-manager/certificate-profiles/${id}/acme/eab-credentials`, { token: s.adminToken, body: {} });
    dirs[slug] = cred.body.eabCredential.directoryUrl;
    eabs[slug] = { kid: cred.body.eabCredential.eabKid, hmacKey: cred.body.eabCredential.eabHmacKey };
    return id;
  };

  before(async (t) => {
    if (backend === "postgres") {
      if (!(await needService(t as unknown as TestContext, "postgres"))) { skip = true; return; }
      pg = createPgDatabase();
    }
    const port = await freePort();
    http01 = createServer((req, res) => {
      const token = req.url?.split("/").pop() ?? "";
      if (holding?.token === token) return holding.arrived(res);
      const body = tokens.get(token);
      res.writeHead(body === undefined ? 404 : 200).end(body ?? "no such token");
    });
    await new Promise<void>((res) => http01.listen(port, "127.0.0.1", res));
    dns = await startTxtDns(txt);
    s = await startServer({ databaseUrl: pg?.url, env: {
      KMS_ACME_HTTP01_OVERRIDE: `127.0.0.1:${port}`, KMS_ACME_DNS_RESOLVER: `127.0.0.1:${dns.port}`, KMS_ACME_ORDERS_PER_HOUR: String(ORDERS_PER_HOUR),
    } });
    f = await setupPki(s, { projectSlug: "acme-proto", policy: POLICY });
    await profile("eab", {});
    await profile("skip-dns", { skipDnsOwnershipVerification: true });
  });
  after(async () => { await s?.cleanup(); await dns?.close(); http01?.close(); pg?.drop(); });

  /** A registered account: client, key and account URL. */
  const account = async (slug = "eab", alg: "ES256" | "RS256" = "ES256") => {
    const c = await acmeClient(dirs[slug]!);
    const key = await newKey(alg);
    const r = await c.newAccount(key, eabs[slug]);
    assert.equal(r.status, 201, r.text);
    return { c, key, kid: r.headers.get("location")! };
  };

  /** An openssl key and a DER CSR (base64url) for these names; the CN is the first DNS name. */
  const csrFor = (names: string[]) => {
    const tag = Math.random().toString(36).slice(2);
    const key = files.path(`${tag}.key`);
    const san = names.map((n) => (/^\d/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
    opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", `/CN=${names.find((n) => !/^\d/.test(n)) ?? names[0]}`,
      "-addext", `subjectAltName=${san}`, "-outform", "DER", "-out", `${key}.der`);
    return { keyPem: readFileSync(key, "utf8"), csr: readFileSync(`${key}.der`).toString("base64url") };
  };

  const order = (c: AcmeClient, key: AcmeKey, kid: string, names: string[]) =>
    c.post(c.dir.newOrder, { identifiers: names.map((n) => ({ type: /^\d/.test(n) ? "ip" : "dns", value: n })) }, key, kid);

  /** Completes every authorization of an order with http-01 (served by this test) and waits for the outcome. */
  const authorize = async (c: AcmeClient, key: AcmeKey, kid: string, orderBody: any, serve: (token: string, ka: string) => string = (_t, ka) => ka) => {
    const tp = await thumbprintOf(key.jwk);
    for (const url of orderBody.authorizations) {
      const authz = (await c.post(url, "", key, kid)).body;
      if (authz.status === "valid") continue;
      const ch = authz.challenges.find((x: any) => x.type === "http-01");
      tokens.set(ch.token, serve(ch.token, keyAuthorization(ch.token, tp)));
      const started = await c.post(ch.url, {}, key, kid);
      assert.equal(started.status, 200, started.text);
      assert.match(started.headers.get("link") ?? "", /rel="up"/);
      await c.poll(url, key, kid);
    }
  };

  check("newNonce: HEAD 200 and GET 204, each with a fresh nonce, never cached", async () => {
    const c = await acmeClient(dirs.eab!);
    const head = await fetch(c.dir.newNonce, { method: "HEAD" });
    const get = await fetch(c.dir.newNonce);
    assert.equal(head.status, 200);
    assert.equal(get.status, 204);
    assert.notEqual(head.headers.get("replay-nonce"), get.headers.get("replay-nonce"));
    assert.equal(get.headers.get("cache-control"), "no-store");
    assert.match(get.headers.get("link")!, /rel="index"/);
  });

  check("a made-up or reused nonce is badNonce, with a fresh nonce to retry with", async () => {
    const { c, key, kid } = await account();
    const bogus = await c.post(kid, "", key, kid, { nonce: "bm90LWEtbm9uY2U", retry: false });
    assert.equal(bogus.status, 400);
    assert.equal(bogus.body.type, `${ERR}badNonce`);
    assert.match(bogus.headers.get("content-type")!, /application\/problem\+json/);
    const fresh = bogus.headers.get("replay-nonce")!;
    assert.equal((await c.post(kid, "", key, kid, { nonce: fresh, retry: false })).status, 200);
    assert.equal((await c.post(kid, "", key, kid, { nonce: fresh, retry: false })).body.type, `${ERR}badNonce`, "a nonce is good once");
  });

  check("accounts: EAB required and checked; ES256 and RS256 keys; the same key finds its account; onlyReturnExisting", async () => {
    const c = await acmeClient(dirs.eab!);
    const key = await newKey("ES256");
    let r = await c.newAccount(key);
    assert.equal(r.body.type, `${ERR}externalAccountRequired`);
    r = await c.newAccount(key, { kid: eabs.eab!.kid, hmacKey: Buffer.alloc(32, 7).toString("base64url") });
    assert.equal(r.status, 403);
    assert.match(r.body.detail, /MAC does not verify/);
    r = await c.newAccount(key, eabs["skip-dns"]);
    assert.equal(r.status, 403, "a credential of another profile is unknown here");
    r = await c.newAccount(await newKey("ES256"), { kid: "4e0c2a84-0000-4000-8000-000000000000", hmacKey: eabs.eab!.hmacKey });
    assert.equal(r.status, 403);
    const created = await c.newAccount(key, eabs.eab);
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.status, "valid");
    const again = await c.newAccount(key, eabs.eab);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("location"), created.headers.get("location"));
    const rsa = await newKey("RS256");
    assert.equal((await c.newAccount(rsa, eabs.eab)).status, 201);
    const missing = await c.post(c.dir.newAccount, { onlyReturnExisting: true }, await newKey("ES256"), "jwk");
    assert.equal(missing.body.type, `${ERR}accountDoesNotExist`);
    const existing = await c.post(c.dir.newAccount, { onlyReturnExisting: true }, rsa, "jwk");
    assert.equal(existing.status, 200);
  });

  check("JWS checks: wrong url, unsupported algorithm, wrong content type, unknown kid, foreign signature", async () => {
    const { c, key, kid } = await account();
    let r = await c.post(kid, "", key, kid, { url: c.dir.newOrder });
    assert.equal(r.body.type, `${ERR}unauthorized`);
    assert.match(r.body.detail, /not the URL of this request/);
    const hs = await c.send(kid, { protected: Buffer.from(JSON.stringify({ alg: "HS256", kid, nonce: await c.freshNonce(), url: kid })).toString("base64url"), payload: "", signature: "AAAA" });
    assert.equal(hs.body.type, `${ERR}badSignatureAlgorithm`);
    assert.ok(hs.body.algorithms.includes("ES256") && hs.body.algorithms.includes("RS256"));
    r = await c.send(kid, await sign(key, { kid, nonce: await c.freshNonce(), url: kid }, ""), "application/json");
    assert.equal(r.status, 415);
    r = await c.post(c.dir.newOrder, { identifiers: [] }, key, kid.replace(/[0-9a-f-]{36}$/, "00000000-0000-4000-8000-000000000000"));
    assert.equal(r.body.type, `${ERR}accountDoesNotExist`);
    r = await c.post(kid, "", await newKey("ES256"), kid);
    assert.equal(r.body.type, `${ERR}malformed`);
    assert.match(r.body.detail, /signature/);
  });

  check("order with http-01 via the override: finalize needs the exact names; the chain comes as PEM", async () => {
    const { c, key, kid } = await account();
    const o = await order(c, key, kid, ["web.example.com", "127.0.0.1"]);
    assert.equal(o.status, 201, o.text);
    assert.equal(o.body.status, "pending");
    const orderUrl = o.headers.get("location")!;
    const authzs = await Promise.all(o.body.authorizations.map(async (u: string) => (await c.post(u, "", key, kid)).body));
    assert.deepEqual(authzs.map((a) => [a.identifier.value, a.challenges.map((x: any) => x.type).sort()]).sort(),
      [["127.0.0.1", ["http-01"]], ["web.example.com", ["dns-01", "http-01", "tls-alpn-01"]]]);
    let r = await c.post(o.body.finalize, { csr: csrFor(["web.example.com", "127.0.0.1"]).csr }, key, kid);
    assert.equal(r.body.type, `${ERR}orderNotReady`);
    await authorize(c, key, kid, o.body);
    assert.equal((await c.post(orderUrl, "", key, kid)).body.status, "ready");
    r = await c.post(o.body.finalize, { csr: csrFor(["web.example.com", "127.0.0.1", "extra.example.com"]).csr }, key, kid);
    assert.equal(r.body.type, `${ERR}badCSR`);
    assert.match(r.body.detail, /not in the order: dns:extra\.example\.com/);
    assert.equal((await c.post(orderUrl, "", key, kid)).body.status, "ready", "a bad CSR leaves the order ready");
    r = await c.post(o.body.finalize, { csr: csrFor(["web.example.com", "127.0.0.1"]).csr }, key, kid);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, "valid");
    const cert = await c.post(r.body.certificate, "", key, kid);
    assert.equal(cert.headers.get("content-type"), "application/pem-certificate-chain");
    const blocks = cert.text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    assert.equal(blocks.length, 2, "leaf and issuing CA, no root");
    const v = openssl("verify", "-CAfile", files.write("root.pem", f.rootCaPem), "-untrusted", files.write("i.pem", blocks[1]!), files.write("leaf.pem", blocks[0]!));
    assert.equal(v.status, 0, v.out);
    assert.match(opensslOk("x509", "-noout", "-ext", "subjectAltName", "-in", files.path("leaf.pem")), /IP Address:127\.0\.0\.1/);
    const list = await c.post(`${kid}/orders`, "", key, kid);
    assert.deepEqual(list.body.orders, [orderUrl]);
    // A second order for the same names reuses the valid authorizations (RFC 8555 7.1.3).
    const again = await order(c, key, kid, ["web.example.com"]);
    assert.equal(again.body.status, "ready");
  });

  check("dns-01 through the configured resolver; a wrong TXT value or key authorization makes the order invalid with the reason", async () => {
    const { c, key, kid } = await account();
    const tp = await thumbprintOf(key.jwk);
    const dnsOrder = async (name: string, value: (ka: string) => string) => {
      const o = await order(c, key, kid, [name]);
      const authz = (await c.post(o.body.authorizations[0], "", key, kid)).body;
      const ch = authz.challenges.find((x: any) => x.type === "dns-01");
      txt.set(`_acme-challenge.${name}`, [value(keyAuthorization(ch.token, tp))]);
      await c.post(ch.url, {}, key, kid);
      await c.poll(o.body.authorizations[0], key, kid);
      return (await c.post(o.headers.get("location")!, "", key, kid)).body;
    };
    assert.equal((await dnsOrder("txt.example.com", dns01Value)).status, "ready");
    const bad = await dnsOrder("badtxt.example.com", () => "wrong-value");
    assert.equal(bad.status, "invalid");
    assert.equal(bad.error.type, `${ERR}unauthorized`);
    assert.equal(bad.error.subproblems[0].type, `${ERR}incorrectResponse`);
    assert.match(bad.error.subproblems[0].detail, /_acme-challenge\.badtxt\.example\.com/);

    const o = await order(c, key, kid, ["badhttp.example.com"]);
    await authorize(c, key, kid, o.body, () => "not the key authorization");
    const after = (await c.post(o.headers.get("location")!, "", key, kid)).body;
    assert.equal(after.status, "invalid");
    const authz = (await c.post(o.body.authorizations[0], "", key, kid)).body;
    assert.equal(authz.status, "invalid");
    assert.equal(authz.challenges.find((x: any) => x.type === "http-01").error.type, `${ERR}incorrectResponse`);
  });

  check("a name the policy denies: rejectedIdentifier naming the rule, and the order is invalid", async () => {
    const { c, key, kid } = await account();
    const o = await order(c, key, kid, ["blocked.example.com"]);
    await authorize(c, key, kid, o.body);
    const r = await c.post(o.body.finalize, { csr: csrFor(["blocked.example.com"]).csr }, key, kid);
    assert.equal(r.status, 400);
    assert.equal(r.body.type, `${ERR}rejectedIdentifier`);
    assert.match(r.body.detail, /sans\.dns_name denied/);
    assert.deepEqual(r.body.subproblems[0].identifier, { type: "dns", value: "blocked.example.com" });
    assert.match(r.body.subproblems[0].detail, /\[policy rule: sans\.dns_name denied\]/);
    const after = (await c.post(o.headers.get("location")!, "", key, kid)).body;
    assert.equal(after.status, "invalid");
    assert.equal(after.error.type, `${ERR}rejectedIdentifier`);
  });

  check("skipDnsOwnershipVerification: ready at once; revocation by certificate key; alreadyRevoked; reasons checked", async () => {
    const { c, key, kid } = await account("skip-dns");
    const o = await order(c, key, kid, ["nocheck.example.com"]);
    assert.equal(o.body.status, "ready");
    const { keyPem, csr } = csrFor(["nocheck.example.com"]);
    const fin = await c.post(o.body.finalize, { csr }, key, kid);
    assert.equal(fin.status, 200, fin.text);
    const pem = (await fetch(fin.body.certificate)).text();
    const leafDer = opensslOk("x509", "-outform", "PEM", "-in", files.write("nocheck.pem", (await pem).split(/(?<=-----END CERTIFICATE-----)/)[0]!));
    const der = Buffer.from(leafDer.replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64url");

    const stranger = await account("skip-dns");
    let r = await stranger.c.post(stranger.c.dir.revokeCert, { certificate: der }, stranger.key, stranger.kid);
    assert.equal(r.body.type, `${ERR}unauthorized`, "another account without authorizations for the names");
    r = await c.post(c.dir.revokeCert, { certificate: der, reason: 7 }, key, kid);
    assert.equal(r.body.type, `${ERR}badRevocationReason`);
    const certKey = await keyFromPem(keyPem, "ES256");
    r = await c.post(c.dir.revokeCert, { certificate: der, reason: 1 }, certKey, "jwk");
    assert.equal(r.status, 200, r.text);
    r = await c.post(c.dir.revokeCert, { certificate: der }, key, kid);
    assert.equal(r.body.type, `${ERR}alreadyRevoked`);
    const list = await api(s.address, "GET", `/api/v1/cert-manager/certificates?projectId=${f.projectId}&status=revoked`, { token: s.adminToken });
    assert.ok(list.body.certificates.some((x: any) => x.commonName === "nocheck.example.com" && x.revocationReason === 1));
  });

  check("ARI: renewalInfo for an issued certificate; newOrder replaces it from the same account only", async () => {
    const { c, key, kid } = await account("skip-dns");
    const o = await order(c, key, kid, ["ari.example.com"]);
    const fin = await c.post(o.body.finalize, { csr: csrFor(["ari.example.com"]).csr }, key, kid);
    const certId = certificateIdOf((await (await fetch(fin.body.certificate)).text()));
    // The audit log names the ordering ACME account as the one who had the certificate issued.
    const log = await api(s.address, "GET", `/api/v1/projects/${f.projectId}/audit-logs?limit=500`, { token: s.adminToken });
    const issued = log.body.auditLogs.find((e: any) => e.action === "acme-issue-certificate" && e.metadata.order === o.headers.get("location")!.split("/").pop());
    assert.deepEqual(issued?.actor, { type: "acme-account", id: kid.split("/").pop() });
    const info = await fetch(`${c.dir.renewalInfo}/${certId}`);
    assert.equal(info.status, 200);
    assert.equal(info.headers.get("retry-after"), String(6 * 3600));
    const w = ((await info.json()) as any).suggestedWindow;
    assert.ok(Date.parse(w.start) > Date.now() && Date.parse(w.end) > Date.parse(w.start));
    const replacing = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "ari.example.com" }], replaces: certId }, key, kid);
    assert.equal(replacing.status, 201, replacing.text);
    assert.equal(replacing.body.replaces, certId);
    const other = await account("skip-dns");
    const refused = await other.c.post(other.c.dir.newOrder, { identifiers: [{ type: "dns", value: "ari.example.com" }], replaces: certId }, other.key, other.kid);
    assert.equal(refused.body.type, `${ERR}unauthorized`);
    // RFC 9773 5: a certificate a live order already replaces cannot be replaced again (409 alreadyReplaced) ...
    const again = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "ari.example.com" }], replaces: certId }, key, kid);
    assert.equal(again.status, 409, again.text);
    assert.equal(again.body.type, `${ERR}alreadyReplaced`);
    assert.match(again.body.detail, /already replaced by order/);
    // ... and an order that shares no identifier with it cannot replace it.
    const unrelated = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "elsewhere.example.com" }], replaces: certId }, key, kid);
    assert.equal(unrelated.body.type, `${ERR}malformed`);
    assert.match(unrelated.body.detail, /shares no identifier/);
    assert.equal((await fetch(`${c.dir.renewalInfo}/AAAA.AAAA`)).status, 404);
    assert.equal((await fetch(`${c.dir.renewalInfo}/not-a-cert-id`)).status, 400);
  });

  check("key change: the new key signs from then on, the old one no longer does; a key in use is a conflict", async () => {
    const { c, key, kid } = await account();
    const next = await newKey("RS256");
    const inner = await sign(next, { jwk: next.jwk, url: c.dir.keyChange }, { account: kid, oldKey: key.jwk });
    const r = await c.post(c.dir.keyChange, inner, key, kid);
    assert.equal(r.status, 200, r.text);
    assert.equal((await c.post(kid, "", next, kid)).status, 200);
    assert.equal((await c.post(kid, "", key, kid)).body.type, `${ERR}malformed`);
    const other = await account();
    const taken = await sign(other.key, { jwk: other.key.jwk, url: c.dir.keyChange }, { account: kid, oldKey: next.jwk });
    const conflict = await c.post(c.dir.keyChange, taken, next, kid);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.headers.get("location"), other.kid);
  });

  check("deactivation: the account can do nothing more, and its pending authorizations end", async () => {
    const { c, key, kid } = await account();
    const o = await order(c, key, kid, ["gone.example.com"]);
    const r = await c.post(kid, { status: "deactivated" }, key, kid);
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "deactivated");
    const after = await c.post(o.body.authorizations[0], "", key, kid);
    assert.equal(after.body.type, `${ERR}unauthorized`);
    assert.equal((await c.newAccount(key, eabs.eab)).body.type, `${ERR}unauthorized`, "the key cannot come back");
  });

  check("EAB credentials: listed without keys; deleting one stops the accounts bound to it", async () => {
    const profileId = /profiles\/([0-9a-f-]+)\//.exec(dirs.eab!)![1]!;
    const base = `/api/v1/cert-manager/certificate-profiles/${profileId}/acme/eab-credentials`;
    const cred = (await api(s.address, "POST", base, { token: s.adminToken, body: { description: "to be withdrawn" } })).body.eabCredential;
    const c = await acmeClient(dirs.eab!);
    const key = await newKey();
    const kid = (await c.newAccount(key, { kid: cred.eabKid, hmacKey: cred.eabHmacKey })).headers.get("location")!;
    const list = await api(s.address, "GET", base, { token: s.adminToken });
    const entry = list.body.eabCredentials.find((e: any) => e.eabKid === cred.eabKid);
    assert.deepEqual({ accounts: entry.accounts, description: entry.description }, { accounts: 1, description: "to be withdrawn" });
    assert.doesNotMatch(list.text, new RegExp(cred.eabHmacKey));
    assert.equal((await api(s.address, "DELETE", `${base}/${cred.eabKid}`, { token: s.adminToken })).status, 200);
    const r = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "x.example.com" }] }, key, kid);
    assert.equal(r.body.type, `${ERR}unauthorized`);
    assert.match(r.body.detail, /withdrawn/);
    // The same key comes back: without a credential it is still refused; with a new one (cert-manager keeps its
    // account key and only gets a new keyID/HMAC key) it is bound anew and works again.
    const again = await c.newAccount(key);
    assert.equal(again.body.type, `${ERR}unauthorized`, again.text);
    assert.match(again.body.detail, /withdrawn/);
    const fresh = (await api(s.address, "POST", base, { token: s.adminToken, body: { description: "the replacement" } })).body.eabCredential;
    const rebound = await c.newAccount(key, { kid: fresh.eabKid, hmacKey: fresh.eabHmacKey });
    assert.equal(rebound.status, 200, rebound.text);
    assert.equal(rebound.headers.get("location"), kid, "the same account");
    assert.equal((await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "x.example.com" }] }, key, kid)).status, 201);
    const denied = await api(s.address, "POST", base, { token: (await api(s.address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId: f.clientId, clientSecret: f.clientSecret } })).body.accessToken, body: {} });
    assert.equal(denied.status, 403, "project members cannot mint credentials; admins can");
  });

  check(`rate limit: order ${ORDERS_PER_HOUR + 1} of an account within the hour is rateLimited with Retry-After`, async () => {
    const { c, key, kid } = await account();
    for (let i = 0; i < ORDERS_PER_HOUR; i++) assert.equal((await order(c, key, kid, [`r${i}.example.com`])).status, 201);
    const r = await order(c, key, kid, ["one-too-many.example.com"]);
    assert.equal(r.status, 429);
    assert.equal(r.body.type, `${ERR}rateLimited`);
    assert.ok(Number(r.headers.get("retry-after")) > 0);
  });

  check("a validation cut short by a server restart resumes when the client polls the authorization", async () => {
    const { c, key, kid } = await account();
    const o = await order(c, key, kid, ["resume.example.com"]);
    const authzUrl = o.body.authorizations[0];
    const ch = (await c.post(authzUrl, "", key, kid)).body.challenges.find((x: any) => x.type === "http-01");
    tokens.set(ch.token, keyAuthorization(ch.token, await thumbprintOf(key.jwk)));
    const arrived = new Promise<void>((res) => { holding = { token: ch.token, arrived: () => res() }; });
    assert.equal((await c.post(ch.url, {}, key, kid)).body.status, "processing");
    await arrived; // the server is fetching the answer, and gets none
    await s.restart();
    holding = undefined;
    // Clients answer a challenge once and then only poll (certbot, lego, cert-manager): the poll must be enough.
    const r = await c.poll(authzUrl, key, kid, 10_000);
    assert.equal(r.body.status, "valid", r.text);
    assert.equal((await c.post(o.headers.get("location")!, "", key, kid)).body.status, "ready");
  });

  check("an authorization deactivated while its challenge is being validated stays deactivated", async () => {
    const { c, key, kid } = await account();
    const o = await order(c, key, kid, ["relinquished.example.com"]);
    const authzUrl = o.body.authorizations[0];
    const ch = (await c.post(authzUrl, "", key, kid)).body.challenges.find((x: any) => x.type === "http-01");
    const ka = keyAuthorization(ch.token, await thumbprintOf(key.jwk));
    const arrived = new Promise<ServerResponse>((res) => { holding = { token: ch.token, arrived: res }; });
    await c.post(ch.url, {}, key, kid);
    const fetching = await arrived;
    holding = undefined;
    assert.equal((await c.post(authzUrl, { status: "deactivated" }, key, kid)).body.status, "deactivated");
    fetching.writeHead(200).end(ka); // the validation now succeeds, too late
    await c.poll(ch.url, key, kid);
    assert.equal((await c.post(authzUrl, "", key, kid)).body.status, "deactivated");
    assert.equal((await order(c, key, kid, ["relinquished.example.com"])).body.status, "pending", "a new order does not reuse it");
  });

  check("newOrder refuses validity it could not honour at finalize: notBefore alone, notAfter in the past", async () => {
    const { c, key, kid } = await account();
    const identifiers = [{ type: "dns", value: "dates.example.com" }];
    const hour = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
    let r = await c.post(c.dir.newOrder, { identifiers, notBefore: hour(1) }, key, kid);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.type, `${ERR}malformed`);
    assert.match(r.body.detail, /notBefore needs notAfter as well/);
    r = await c.post(c.dir.newOrder, { identifiers, notBefore: hour(-48), notAfter: hour(-24) }, key, kid);
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.detail, /notAfter .* is in the past/);
    r = await c.post(c.dir.newOrder, { identifiers, notAfter: hour(24) }, key, kid);
    assert.equal(r.status, 201, r.text);
  });

  check("an API profile has no ACME directory", async () => {
    const r = await fetch(`${s.address}/api/v1/cert-manager/acme/profiles/${f.profileId}/directory`);
    assert.equal(r.status, 404);
    assert.match(r.headers.get("content-type")!, /application\/problem\+json/);
  });
});

suite("sqlite");
suite("postgres");
