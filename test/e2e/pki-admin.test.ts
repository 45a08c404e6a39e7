/**
 * PKI administration against a real server and real openssl: an intermediate signed outside the KMS (the
 * external-sign flow) and what its import refuses, profile defaults checked when written, a profile slug that
 * exists in two projects, and a renewal that keeps the chain choice of the request it renews.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl, opensslOk, scratch } from "../helpers/openssl.js";

describe("PKI administration (real server, real openssl)", () => {
  let s: TestServer;
  let f: PkiFixture;
  const files = scratch();
  const admin = (method: string, path: string, body?: unknown) => api(s.address, method, path, { token: s.adminToken, ...(body !== undefined && { body }) });
  const CAS = "/api/v1/cert-manager/ca/internal";

  before(async () => {
    s = await startServer();
    f = await setupPki(s, { projectSlug: "pki-admin" });
    // The offline root: an openssl CA the KMS never sees the key of.
    opensslOk("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", files.path("offline.key"), "-out", files.path("offline.pem"),
      "-subj", "/CN=Offline Root", "-days", "3650", "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    opensslOk("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", files.path("other.key"), "-out", files.path("other.pem"),
      "-subj", "/CN=Unrelated Root", "-days", "3650", "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  });
  after(() => s.cleanup());

  const pendingCa = async (name: string) => {
    const r = await admin("POST", CAS, {
      projectId: f.projectId, name, status: "active",
      configuration: { type: "intermediate", commonName: `${name} CA`, organization: "Acme", ou: "", country: "US", province: "", locality: "", keyAlgorithm: "EC_prime256v1" },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, "pending-certificate");
    const csr = await admin("GET", `${CAS}/${r.body.id}/csr`);
    assert.equal(csr.status, 200, csr.text);
    return { id: r.body.id as string, csr: csr.body.csr as string };
  };

  /** What an offline root's operator does with the CSR: sign it with the given extensions. */
  const offlineSign = (name: string, csr: string, ext: string, days = 1800, root = "offline") => {
    files.write(`${name}.csr`, csr);
    files.write(`${name}.ext`, `[v3]\n${ext}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`);
    opensslOk("x509", "-req", "-in", files.path(`${name}.csr`), "-CA", files.path(`${root}.pem`), "-CAkey", files.path(`${root}.key`), "-set_serial", `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6)}`,
      "-days", String(days), "-extfile", files.path(`${name}.ext`), "-extensions", "v3", "-out", files.path(`${name}.pem`));
    return opensslOk("x509", "-in", files.path(`${name}.pem`));
  };
  const CA_EXT = "basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign";
  const importCert = (id: string, certificate: string, certificateChain: string) => admin("POST", `${CAS}/${id}/import-certificate`, { certificate, certificateChain });

  test("an intermediate signed by an offline root: imported, its details taken from the certificate, and its leaves verify", async () => {
    const { id, csr } = await pendingCa("offline-signed");
    const cert = offlineSign("offline-signed", csr, CA_EXT);
    const r = await importCert(id, cert, opensslOk("x509", "-in", files.path("offline.pem")));
    assert.equal(r.status, 200, r.text);
    const ca = (await admin("GET", `${CAS}/${id}`)).body;
    assert.equal(ca.status, "active");
    const notAfter = new Date(opensslOk("x509", "-in", files.path("offline-signed.pem"), "-noout", "-enddate").trim().replace("notAfter=", "")).toISOString();
    assert.equal(ca.configuration.notAfter, notAfter, "notAfter is the certificate's, not the one asked at creation");
    assert.equal(ca.configuration.maxPathLength, 0);
    assert.match(ca.configuration.serialNumber, /^[0-9a-f]+$/);
    assert.equal(ca.configuration.parentCaId, null, "the parent is not a CA of the KMS");

    const policy = (await admin("GET", `/api/v1/cert-manager/certificate-policies?projectId=${f.projectId}`)).body.certificatePolicies[0];
    const profile = await admin("POST", "/api/v1/cert-manager/certificate-profiles", {
      projectId: f.projectId, certificatePolicyId: policy.id, slug: "offline-leaves", enrollmentType: "api", caId: id, apiConfig: { autoRenew: false },
    });
    assert.equal(profile.status, 200, profile.text);
    const leaf = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token: await login(s.address, f.clientId, f.clientSecret), body: {
      profileId: profile.body.certificateProfile.id, attributes: { commonName: "offline.example.com", altNames: [{ type: "dns_name", value: "offline.example.com" }],
        keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"], keyAlgorithm: "EC_prime256v1", ttl: "30d" },
    } });
    assert.equal(leaf.status, 200, leaf.text);
    const v = openssl("verify", "-x509_strict", "-CAfile", files.path("offline.pem"), "-untrusted", files.write("ol-chain.pem", leaf.body.certificate.certificateChain),
      files.write("ol-leaf.pem", leaf.body.certificate.certificate));
    assert.equal(v.status, 0, v.out);
    assert.doesNotMatch(leaf.body.certificate.certificateChain, /Unrelated/);

    // A renewal of the same CA (same subject, later notAfter) is accepted as version 2; anything else is not.
    const older = await importCert(id, offlineSign("offline-older", csr, CA_EXT, 900), opensslOk("x509", "-in", files.path("offline.pem")));
    assert.equal(older.status, 400, older.text);
    assert.match(older.body.message, /renewal/);
    const renewed = await importCert(id, offlineSign("offline-renewed", csr, CA_EXT, 2500), opensslOk("x509", "-in", files.path("offline.pem")));
    assert.equal(renewed.status, 200, renewed.text);
    const versions = (await admin("GET", `${CAS}/${id}/ca-certificates`)).body;
    assert.deepEqual(versions.map((v: { version: number }) => v.version), [1, 2]);
  });

  test("an import that would leave a CA unable to issue, or with a chain that does not verify, is refused and changes nothing", async () => {
    const { id, csr } = await pendingCa("refused-imports");
    const root = opensslOk("x509", "-in", files.path("offline.pem"));
    const cases: [string, () => Promise<Awaited<ReturnType<typeof importCert>>>, RegExp][] = [
      ["KeyUsage without keyCertSign", async () => importCert(id, offlineSign("no-certsign", csr, "basicConstraints=critical,CA:true\nkeyUsage=critical,digitalSignature,cRLSign"), root), /lacks key_cert_sign/],
      ["no KeyUsage at all", async () => importCert(id, offlineSign("no-ku", csr, "basicConstraints=critical,CA:true"), root), /KeyUsage extension is missing/],
      ["not a CA", async () => importCert(id, offlineSign("not-ca", csr, "basicConstraints=critical,CA:false\nkeyUsage=critical,keyCertSign,cRLSign"), root), /not a CA certificate/],
      ["a chain that did not sign it", async () => importCert(id, offlineSign("wrong-chain", csr, CA_EXT), opensslOk("x509", "-in", files.path("other.pem"))), /certificateChain\[0\]: did not sign certificate/],
      ["no chain", async () => importCert(id, offlineSign("no-chain", csr, CA_EXT), ""), /certificateChain: required/],
      ["someone else's key", async () => importCert(id, opensslOk("x509", "-in", files.path("other.pem")), root), /does not match this CA's key pair/],
    ];
    for (const [what, run, message] of cases) {
      const r = await run();
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.match(r.body.message, message, what);
    }
    const ca = (await admin("GET", `${CAS}/${id}`)).body;
    assert.equal(ca.status, "pending-certificate");
    assert.equal(ca.configuration.activeCaCertId, null);
    assert.deepEqual((await admin("GET", `${CAS}/${id}/ca-certificates`)).body, []);
  });

  test("an intermediate signed by a CA of the KMS (sign-intermediate) records that CA as its parent", async () => {
    const { id, csr } = await pendingCa("kms-signed");
    const signed = await admin("POST", `${CAS}/${f.rootCaId}/sign-intermediate`, { csr, notAfter: new Date(Date.now() + 365 * 86_400_000).toISOString(), maxPathLength: 0 });
    assert.equal(signed.status, 200, signed.text);
    const r = await importCert(id, signed.body.certificate, signed.body.certificateChain);
    assert.equal(r.status, 200, r.text);
    const ca = (await admin("GET", `${CAS}/${id}`)).body;
    assert.equal(ca.configuration.parentCaId, f.rootCaId);
    assert.equal(ca.configuration.serialNumber, signed.body.serialNumber);
    assert.equal(ca.configuration.maxPathLength, 0);
  });

  test("renewing a root and an intermediate in place: same key and subject, a later notAfter, and what they issued before still verifies", async () => {
    const token = await login(s.address, f.clientId, f.clientSecret);
    const issueLeaf = async (cn: string) => {
      const r = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token, body: {
        profileId: f.profileId, attributes: { commonName: cn, altNames: [{ type: "dns_name", value: cn }], keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"], keyAlgorithm: "EC_prime256v1", ttl: "30d" },
      } });
      assert.equal(r.status, 200, r.text);
      return r.body.certificate as { certificate: string; certificateChain: string };
    };
    const verifies = (root: string, leaf: { certificate: string; certificateChain: string }) => {
      const tag = Math.random().toString(36).slice(2);
      return openssl("verify", "-x509_strict", "-CAfile", files.write(`r-${tag}.pem`, root), "-untrusted", files.write(`c-${tag}.pem`, leaf.certificateChain),
        files.write(`l-${tag}.pem`, leaf.certificate));
    };
    const pubkey = (pem: string) => opensslOk("x509", "-noout", "-pubkey", "-in", files.write(`k-${Math.random()}.pem`, pem));
    const subject = (pem: string) => opensslOk("x509", "-noout", "-subject", "-in", files.write(`s-${Math.random()}.pem`, pem));
    const before = await issueLeaf("before.example.com");

    const rootAfter = new Date(Date.now() + 12 * 365 * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
    const root = await admin("POST", `${CAS}/${f.rootCaId}/renew`, { type: "existing", notAfter: rootAfter });
    assert.equal(root.status, 200, root.text);
    assert.equal(root.body.certificateChain, "");
    assert.equal(pubkey(root.body.certificate), pubkey(f.rootCaPem), "same key");
    assert.equal(subject(root.body.certificate), subject(f.rootCaPem), "same subject");
    const rootCa = (await admin("GET", `${CAS}/${f.rootCaId}`)).body;
    assert.equal(rootCa.configuration.notAfter, new Date(rootAfter).toISOString());
    assert.equal(rootCa.configuration.serialNumber, root.body.serialNumber);
    assert.deepEqual((await admin("GET", `${CAS}/${f.rootCaId}/ca-certificates`)).body.map((c: { version: number }) => c.version), [1, 2]);
    const v1 = verifies(root.body.certificate, before);
    assert.equal(v1.status, 0, `a leaf from before verifies against the renewed root: ${v1.out}`);

    const interAfter = new Date(Date.now() + 6 * 365 * 86_400_000).toISOString();
    const inter = await admin("POST", `${CAS}/${f.intermediateCaId}/renew`, { type: "existing", notAfter: interAfter });
    assert.equal(inter.status, 200, inter.text);
    assert.equal(pubkey(inter.body.certificate), pubkey(f.intermediateCaPem));
    assert.match(inter.body.certificateChain, /BEGIN CERTIFICATE/);
    const after = await issueLeaf("after.example.com");
    assert.ok(after.certificateChain.includes(inter.body.certificate.trim().split("\n")[1]!), "new leaves carry the renewed intermediate");
    for (const [what, anchor] of [["original root", f.rootCaPem], ["renewed root", root.body.certificate]] as const) {
      assert.equal(verifies(anchor, after).status, 0, `new leaf against the ${what}`);
      assert.equal(verifies(anchor, before).status, 0, `old leaf against the ${what}`);
    }

    for (const [body, message] of [
      [{ type: "new", notAfter: interAfter }, /type: only "existing" is supported/],
      [{ type: "existing", notAfter: "2020-01-01T00:00:00Z" }, /notAfter: must be in the future/],
      [{ type: "existing", notAfter: new Date(Date.now() + 20 * 365 * 86_400_000).toISOString() }, /after the parent CA's notAfter/],
    ] as const) {
      const r = await admin("POST", `${CAS}/${f.intermediateCaId}/renew`, body);
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.message, message);
    }
    const { id } = await pendingCa("renew-elsewhere");
    const offline = await importCert(id, offlineSign("renew-elsewhere", (await admin("GET", `${CAS}/${id}/csr`)).body.csr, CA_EXT), opensslOk("x509", "-in", files.path("offline.pem")));
    assert.equal(offline.status, 200, offline.text);
    const elsewhere = await admin("POST", `${CAS}/${id}/renew`, { type: "existing", notAfter: interAfter });
    assert.equal(elsewhere.status, 400, elsewhere.text);
    assert.match(elsewhere.body.message, /signed outside the KMS: have its CSR .* signed again and import/);
  });

  test("a temporary member issues within its window and is refused after it (the issuance path reads the window with the profile)", async () => {
    const c = await createUaIdentity(s, "temporary-issuer");
    const token = await login(s.address, c.clientId, c.clientSecret);
    const start = new Date();
    const m = await admin("POST", `/api/v1/projects/${f.projectId}/memberships/identities/${c.identityId}`, {
      roles: [{ role: "member", isTemporary: true, temporaryMode: "relative", temporaryRange: "2s", temporaryAccessStartTime: start.toISOString() }],
    });
    assert.equal(m.status, 200, m.text);
    const issue = () => api(s.address, "POST", "/api/v1/cert-manager/certificates", { token, body: {
      profileId: f.profileId, attributes: { commonName: "temp.example.com", altNames: [{ type: "dns_name", value: "temp.example.com" }], keyUsages: ["digital_signature"], keyAlgorithm: "EC_prime256v1", ttl: "1d" },
    } });
    assert.equal((await issue()).status, 200);
    await new Promise((r) => setTimeout(r, Math.max(0, +start + 2200 - Date.now())));
    const after = await issue();
    assert.equal(after.status, 403, after.text);
  });

  test("profile defaults are checked when the profile is written, naming the field; nothing is created", async () => {
    const policy = await admin("POST", "/api/v1/cert-manager/certificate-policies", {
      projectId: f.projectId, name: "short-lived", subject: [{ type: "common_name", allowed: ["*"] }], keyUsages: { allowed: ["digital_signature"] },
      algorithms: { signature: ["SHA256-ECDSA"], keyAlgorithm: ["ECDSA-P256"] }, validity: { max: "90d" },
    });
    assert.equal(policy.status, 200, policy.text);
    const profile = (slug: string, defaults: unknown) => admin("POST", "/api/v1/cert-manager/certificate-profiles", {
      projectId: f.projectId, certificatePolicyId: policy.body.certificatePolicy.id, slug, enrollmentType: "api", caId: f.intermediateCaId, apiConfig: { autoRenew: false }, defaults,
    });
    const before = (await admin("GET", `/api/v1/cert-manager/certificate-profiles?projectId=${f.projectId}`)).body.totalCount;
    for (const [defaults, message] of [
      [{ ttlDays: 0 }, /defaults\.ttlDays: must be a whole number of days, 1 or more/],
      [{ ttlDays: -3 }, /defaults\.ttlDays/],
      [{ ttlDays: 365 }, /defaults\.ttlDays: 365 days exceeds the policy's maximum validity 90d/],
      [{ keyUsages: ["bogus"] }, /defaults\.keyUsages: unknown value "bogus"/],
      [{ extendedKeyUsages: "server_auth" }, /defaults\.extendedKeyUsages: must be a list/],
      [{ keyAlgorithm: "EC_p256" }, /defaults\.keyAlgorithm: unknown key algorithm/],
      [{ signatureAlgorithm: "RSA-SHA256" }, /defaults\.signatureAlgorithm: RSA-SHA256 needs an RSA issuer key/],
      [{ country: "USA" }, /defaults\.country: must be a two-letter/],
      [{ basicConstraints: { isCA: "yes" } }, /defaults\.basicConstraints\.isCA: must be a boolean/],
    ] as const) {
      const r = await profile("bad-defaults", defaults);
      assert.equal(r.status, 422, `${JSON.stringify(defaults)}: ${r.text}`);
      // A 422's message is the list of issues (api.md 0.4), each with the field's path.
      const said = (r.body.message as { path: string[]; message: string }[]).map((i) => `${i.path.slice(1).join(".")}: ${i.message}`).join("; ");
      assert.match(said, message);
    }
    assert.equal((await admin("GET", `/api/v1/cert-manager/certificate-profiles?projectId=${f.projectId}`)).body.totalCount, before, "no profile was created");
    const ok = await profile("good-defaults", { ttlDays: 30, keyUsages: ["digitalSignature"], keyAlgorithm: "EC_prime256v1", signatureAlgorithm: "ECDSA-SHA256", country: "US" });
    assert.equal(ok.status, 200, ok.text);
    // An update is checked the same way, and a refused one leaves the profile as it was.
    const bad = await admin("PATCH", `/api/v1/cert-manager/certificate-profiles/${ok.body.certificateProfile.id}`, { defaults: { ttlDays: 400 } });
    assert.equal(bad.status, 422, bad.text);
    assert.equal((await admin("GET", `/api/v1/cert-manager/certificate-profiles/${ok.body.certificateProfile.id}`)).body.certificateProfile.defaults.ttlDays, 30);
  });

  test("a profile slug in two of the caller's projects is refused without a project, naming both; with one it resolves", async () => {
    const other = await setupPki(s, { projectSlug: "pki-admin-other" });
    const bySlug = (query = "") => admin("GET", `/api/v1/cert-manager/certificate-profiles/slug/${f.profileSlug}${query}`);
    const r = await bySlug();
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.message, /exists in several of your projects \('pki-admin', 'pki-admin-other'\)/);
    assert.equal((await bySlug(`?projectId=${other.projectId}`)).body.certificateProfile.id, other.profileId);
    assert.equal((await bySlug(`?projectId=${f.projectId}`)).body.certificateProfile.id, f.profileId);
    // An identity that is a member of one of them only still resolves the slug without a project.
    const own = await api(s.address, "GET", `/api/v1/cert-manager/certificate-profiles/slug/${f.profileSlug}`, { token: await login(s.address, other.clientId, other.clientSecret) });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.body.certificateProfile.id, other.profileId);
  });

  test("renewing keeps the chain choice of the request it renews, unless the renewal says otherwise", async () => {
    const token = await login(s.address, f.clientId, f.clientSecret);
    const chainLength = (pem: string) => (pem.match(/BEGIN CERTIFICATE/g) ?? []).length;
    const issued = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token, body: {
      profileId: f.profileId, removeRootsFromChain: true,
      attributes: { commonName: "renew.example.com", altNames: [{ type: "dns_name", value: "renew.example.com" }], keyUsages: ["digital_signature"], keyAlgorithm: "EC_prime256v1", ttl: "10d" },
    } });
    assert.equal(issued.status, 200, issued.text);
    assert.equal(chainLength(issued.body.certificate.certificateChain), 1);
    const renewed = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${issued.body.certificate.certificateId}/renew`, { token, body: {} });
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal(chainLength(renewed.body.certificateChain), 1, "root still left out");
    const withRoot = await api(s.address, "POST", `/api/v1/cert-manager/certificates/${renewed.body.certificateId}/renew`, { token, body: { removeRootsFromChain: false } });
    assert.equal(withRoot.status, 200, withRoot.text);
    assert.equal(chainLength(withRoot.body.certificateChain), 2);
  });
});
