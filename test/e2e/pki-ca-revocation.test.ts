import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { api, KMS_BIN, login, startServer, type TestServer } from "../helpers/server.js";
import { setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl, opensslOk, scratch } from "../helpers/openssl.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";

/**
 * Revoking an intermediate CA (POST /:caId/revoke, `kms pki ca revoke`): its parent's CRL and OCSP responder
 * say so at once, openssl rejects the chains through it, it and the CAs below it stop issuing, and nothing
 * (enable, renew, import, delete) undoes it.
 */
describe("intermediate CA revocation (real server, real openssl)", () => {
  let s: TestServer;
  let f: PkiFixture;
  let mid: { id: string; pem: string };
  let sub: { id: string; pem: string };
  let subProfileId = "";
  let token = "";
  let leaf = "";
  const files = scratch("kms-ca-revoke-");
  const admin = (method: string, path: string, body?: unknown) => api(s.address, method, path, { token: s.adminToken, body });
  const CA = "/api/v1/cert-manager/ca/internal";
  const createCa = async (name: string, parentCaId: string) => {
    const r = await admin("POST", CA, {
      projectId: f.projectId, name, status: "active",
      configuration: { type: "intermediate", commonName: `Test ${name}`, organization: "Acme", keyAlgorithm: "EC_prime256v1", parentCaId, notAfter: new Date(Date.now() + 3 * 365 * 86_400_000).toISOString() },
    });
    assert.equal(r.status, 200, r.text);
    return { id: r.body.id as string, pem: (await admin("GET", `${CA}/${r.body.id}/certificate`)).body.certificate as string };
  };
  const issue = (profileId: string) => api(s.address, "POST", "/api/v1/cert-manager/certificates", {
    token, body: { profileId, attributes: { commonName: "svc.example.com", altNames: [{ type: "dns_name", value: "svc.example.com" }], keyAlgorithm: "EC_prime256v1", ttl: "5d", keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"] } },
  });
  /** The CRL a certificate points at, as PEM in a file. */
  const crlOf = async (certPem: string, name: string) => {
    const url = /URI:(\S+)/.exec(opensslOk("x509", "-in", files.write(`${name}.crt`, certPem), "-noout", "-ext", "crlDistributionPoints"))![1]!;
    const der = Buffer.from(await (await fetch(url)).arrayBuffer());
    return files.write(`${name}.crl.pem`, opensslOk("crl", "-inform", "DER", "-in", files.write(`${name}.crl.der`, der)));
  };
  const verifyAll = async () => {
    // Every certificate's CRL: the root's (lists mid), mid's (lists sub), sub's (lists the leaf).
    const crls = [await crlOf(mid.pem, "mid"), await crlOf(sub.pem, "sub"), await crlOf(leaf, "leaf")];
    return openssl("verify", "-crl_check_all", ...crls.flatMap((c) => ["-CRLfile", c]), "-CAfile", files.write("root.pem", f.rootCaPem),
      "-untrusted", files.write("chain.pem", sub.pem + mid.pem), files.write("leaf.pem", leaf));
  };
  const kms = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => execFile(process.execPath, [KMS_BIN, "pki", ...args], { env: { ...process.env, KMS_ADDRESS: s.address, KMS_TOKEN: s.adminToken }, encoding: "utf8" },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr })));

  before(async () => {
    s = await startServer();
    f = await setupPki(s, { projectSlug: "ca-revoke" });
    token = await login(s.address, f.clientId, f.clientSecret);
    // root → mid → sub → leaf, beside the fixture's root → issuing-ca.
    mid = await createCa("mid-ca", f.rootCaId);
    sub = await createCa("sub-ca", mid.id);
    const p = await admin("POST", "/api/v1/cert-manager/certificate-profiles", { projectId: f.projectId, certificatePolicyId: f.policyId, slug: "sub-web", enrollmentType: "api", issuerType: "ca", caId: sub.id, apiConfig: { autoRenew: false } });
    assert.equal(p.status, 200, p.text);
    subProfileId = p.body.certificateProfile.id;
    const r = await issue(subProfileId);
    assert.equal(r.status, 200, r.text);
    leaf = r.body.certificate.certificate;
  });
  after(() => s.cleanup());

  test("what cannot be revoked, and who may not: a root, an unknown reason, a member; nothing changes", async () => {
    const root = await admin("POST", `${CA}/${f.rootCaId}/revoke`, { revocationReason: "KEY_COMPROMISE" });
    assert.equal(root.status, 400, root.text);
    assert.match(root.body.message, /root CA cannot be revoked/);
    const reason = await admin("POST", `${CA}/${mid.id}/revoke`, { revocationReason: "BECAUSE" });
    assert.equal(reason.status, 400, reason.text);
    assert.match(reason.body.message, /^revocationReason: "BECAUSE" is not a revocation reason \(one of UNSPECIFIED, KEY_COMPROMISE/);
    const member = await api(s.address, "POST", `${CA}/${mid.id}/revoke`, { token, body: { revocationReason: "KEY_COMPROMISE" } });
    assert.equal(member.status, 403, member.text);
    assert.equal((await admin("GET", `${CA}/${mid.id}`)).body.status, "active");
    const v = await verifyAll();
    assert.equal(v.status, 0, v.out);
  });

  test("revoked: the root's CRL and OCSP list it, openssl rejects the chain, it and the CAs below stop issuing", async () => {
    const cli = await kms(["ca", "revoke", mid.id, "--reason", "key-compromise"]);
    assert.equal(cli.code, 0, cli.out);
    assert.match(cli.out, /revoked: +mid-ca/);
    assert.match(cli.out, /reason: +KEY_COMPROMISE/);
    assert.match(cli.out, new RegExp(`disabled below it: +${sub.id}`));

    const midSerial = opensslOk("x509", "-in", files.write("mid-now.pem", mid.pem), "-noout", "-serial").trim().split("=")[1]!;
    const rootCrl = opensslOk("crl", "-in", await crlOf(mid.pem, "mid-after"), "-noout", "-text");
    assert.match(rootCrl, new RegExp(`Serial Number: ${midSerial}[\\s\\S]*?Key Compromise`, "i"));

    const v = await verifyAll();
    assert.notEqual(v.status, 0, v.out);
    assert.match(v.out, /error 23 at 2 depth lookup: certificate revoked/, v.out);

    const o = openssl("ocsp", "-issuer", files.write("root-o.pem", f.rootCaPem), "-cert", files.write("mid-o.pem", mid.pem),
      "-url", `${s.address}/api/v1/pki/ocsp/${f.rootCaId}`, "-CAfile", files.path("root-o.pem"));
    assert.match(o.out, /mid-o\.pem: revoked/, o.out);
    assert.match(o.out, /keyCompromise/);
    assert.match(o.out, /Response verify OK/);

    assert.equal((await admin("GET", `${CA}/${mid.id}`)).body.status, "revoked");
    assert.equal((await admin("GET", `${CA}/${sub.id}`)).body.status, "disabled");
    const refused = await issue(subProfileId);
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.body.message, /sub-ca' is disabled/);
    // The sibling under the same root is untouched.
    assert.equal((await issue(f.profileId)).status, 200);
    // Its own CRL is still served (what it issued stays out there until it expires).
    assert.match((await admin("GET", `${CA}/${mid.id}/crls`)).body[0].crl, /^-----BEGIN X509 CRL-----/);

    const audit = await admin("GET", `/api/v1/projects/${f.projectId}/audit-logs?limit=500`);
    const event = audit.body.auditLogs.find((e: { action: string }) => e.action === "revoke-ca");
    assert.ok(event, "a revoke-ca audit event");
    assert.deepEqual(event.metadata.disabledCaIds, [sub.id]);
    assert.equal(event.metadata.reason, "KEY_COMPROMISE");
  });

  test("nothing undoes it: enable, renew, import, sign below it, revoke again, delete while its certificate is valid", async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ["PATCH", `${CA}/${mid.id}`, { status: "active" }, /was revoked; it stays revoked/],
      ["PATCH", `${CA}/${sub.id}`, { status: "active" }, /the CA 'mid-ca' above this one was revoked/],
      ["POST", `${CA}/${mid.id}/renew`, { type: "existing", notAfter: new Date(Date.now() + 4 * 365 * 86_400_000).toISOString() }, /was revoked; its key takes no new certificate/],
      ["POST", `${CA}/${mid.id}/import-certificate`, { certificate: mid.pem, certificateChain: f.rootCaPem }, /was revoked; its key takes no new certificate/],
      ["POST", `${CA}/${mid.id}/revoke`, {}, /already revoked/],
      ["POST", CA, { projectId: f.projectId, name: "under-revoked", status: "active", configuration: { type: "intermediate", commonName: "x", keyAlgorithm: "EC_prime256v1", parentCaId: mid.id } }, /mid-ca' is revoked, not active/],
      ["DELETE", `${CA}/${mid.id}`, undefined, /was revoked; it is kept until its certificates expire/],
    ];
    for (const [method, path, body, message] of cases) {
      const r = await admin(method, path, body);
      assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
      assert.match(r.body.message, message, `${method} ${path}`);
    }
    assert.equal((await admin("GET", `${CA}/${mid.id}`)).body.status, "revoked");
    // A server restart reads it back the same way (nothing kept only in memory).
    await s.restart();
    const o = openssl("ocsp", "-issuer", files.path("root-o.pem"), "-cert", files.path("mid-o.pem"), "-url", `${s.address}/api/v1/pki/ocsp/${f.rootCaId}`, "-CAfile", files.path("root-o.pem"));
    assert.match(o.out, /mid-o\.pem: revoked/, o.out);
    assert.equal((await issue(subProfileId)).status, 400);
  });
});

describe("intermediate CA revocation on PostgreSQL", () => {
  let s: TestServer | undefined;
  let database: ReturnType<typeof createPgDatabase> | undefined;
  after(async () => {
    await s?.cleanup();
    database?.drop();
  });

  test("revoked through the API: the root's OCSP responder and CRL list it, the CA stops issuing", async (t) => {
    if (!(await needService(t, "postgres"))) return;
    database = createPgDatabase();
    s = await startServer({ databaseUrl: database.url });
    const f = await setupPki(s, { projectSlug: "pg-ca-revoke" });
    const files = scratch("kms-ca-revoke-pg-");
    const r = await api(s.address, "POST", `/api/v1/cert-manager/ca/internal/${f.intermediateCaId}/revoke`, { token: s.adminToken, body: { revocationReason: "CA_COMPROMISE" } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.disabledCaIds, []);
    const root = files.write("root.pem", f.rootCaPem);
    const o = openssl("ocsp", "-issuer", root, "-cert", files.write("int.pem", f.intermediateCaPem), "-url", `${s.address}/api/v1/pki/ocsp/${f.rootCaId}`, "-CAfile", root);
    assert.match(o.out, /int\.pem: revoked/, o.out);
    assert.match(o.out, /cACompromise/);
    const crl = (await api(s.address, "GET", `/api/v1/cert-manager/ca/internal/${f.rootCaId}/crls`, { token: s.adminToken })).body[0].crl;
    assert.match(opensslOk("crl", "-in", files.write("root.crl", crl), "-noout", "-text"), new RegExp(`Serial Number: ${r.body.serialNumbers[0]}`, "i"));
    const token = await login(s.address, f.clientId, f.clientSecret);
    const refused = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token, body: { profileId: f.profileId, attributes: { commonName: "a.example.com", keyAlgorithm: "EC_prime256v1", ttl: "1d" } } });
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.body.message, /issuing-ca' is revoked, not active/);
  });
});
