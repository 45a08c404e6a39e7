import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomUUID, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Agent, setGlobalDispatcher } from "undici";
import { AuthConfig, createAuthMethod } from "../../src/agent/auth/index.js";
import { createKmsClient, type KmsClient } from "../../src/client/kms-client.js";
import { serviceNames } from "../../src/core/identity/service-key-names.js";
import { buildServiceCsr, loadServiceKey, mintServiceJwt, publicKeyPem } from "../../src/core/identity/service-key-client.js";
import { SignJWT } from "jose";
import { api, KMS_BIN, startServer, type ApiResponse, type TestServer } from "../helpers/server.js";
import { setupPki, PERMISSIVE_POLICY, type PkiFixture } from "../helpers/pki.js";
import { selfSignedServerCert } from "../helpers/k8s.js";
import { opensslOk } from "../helpers/openssl.js";
import { unitNodeFlags } from "../helpers/systemd-unit.js";

/**
 * Service identity end to end (seed 004) on an HTTPS server that asks for client certificates: key-pair JWTs,
 * `kms svccert` in its three flows, instance register tokens, renewal and login with the certificate held.
 */

const DOMAIN = "svc.example.com";
const SERVICE_POLICY = {
  ...PERMISSIVE_POLICY,
  subject: [{ type: "common_name", allowed: [`*.*.${DOMAIN}`] }],
  sans: [{ type: "dns_name", allowed: [`*.*.${DOMAIN}`] }, { type: "uri", allowed: [`spiffe://${DOMAIN}/*`] }],
};

const tls = selfSignedServerCert();
const dir = mkdtempSync(join(tmpdir(), "kms-svccert-"));
let server: TestServer;
let client: KmsClient;
let A: PkiFixture;
let B: PkiFixture;
let webId: string;
let webB: string;

const newKey = (name: string) => {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const path = join(dir, `${name}.key`);
  writeFileSync(path, pem, { mode: 0o600 });
  return { pem, path, key: loadServiceKey(pem) };
};
const webKey = newKey("web");
const rogueKey = newKey("rogue");

const must = async (p: Promise<ApiResponse<any>>): Promise<any> => {
  const r = await p;
  assert.equal(r.status, 200, r.text);
  return r.body;
};
const admin = (method: string, path: string, body?: unknown) => api(server.address, method, path, { token: server.adminToken, body });

const serviceIdentity = async (name: string, fx: PkiFixture) => {
  const id = (await must(admin("POST", "/api/v1/identities", { name, organizationId: server.orgId }))).identity.id as string;
  await must(admin("POST", `/api/v1/auth/service-key/identities/${id}`, { profileId: fx.profileId, dnsDomains: DOMAIN, accessTokenTTL: 600 }));
  return id;
};

/** Runs `kms svccert` and returns its exit code and output. */
const svccert = (args: string[]) =>
  new Promise<{ code: number | null; out: string }>((res) => {
    const p = spawn(process.execPath, [KMS_BIN, "svccert", "--address", server.address, "--server-ca-file", tls.certPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("exit", (code) => res({ code, out }));
  });

const csrFor = (k: ReturnType<typeof newKey>, identity: string, project: string) => buildServiceCsr(k.key, serviceNames({ identity, project, dnsDomain: DOMAIN }));
const jwtFor = (o: { identity?: string; project?: string; keyVersion?: string; audience?: string; nowMs?: number; lifetimeSeconds?: number; key?: ReturnType<typeof newKey> } = {}) =>
  mintServiceJwt((o.key ?? webKey).key, {
    identity: o.identity ?? webId, project: o.project, keyVersion: o.keyVersion ?? "v1", audience: o.audience ?? server.address, nowMs: o.nowMs ?? Date.now(), lifetimeSeconds: o.lifetimeSeconds,
  });
/** A service certificate straight from the API (faster than spawning svccert). */
const issueDirect = async (ttl?: string, identity = webId, project = A.projectSlug) =>
  client.serviceKeyCertificate({ jwt: await jwtFor({ identity, project }), csr: await csrFor(webKey, "web", project), ...(ttl ? { ttl } : {}) });
const refreshWith = async (cert: string, key = webKey.pem, project = A.projectSlug) =>
  client.refreshServiceCertificate({ csr: await csrFor(webKey, "web", project), project }, { cert, key, ca: tls.cert });

before(async () => {
  // The test process trusts the server's self-signed certificate for fetch (api(), setupPki) and undici.
  setGlobalDispatcher(new Agent({ connect: { ca: tls.cert } }));
  server = await startServer({ args: ["--tls-cert", tls.certPath, "--tls-key", tls.keyPath, "--tls-request-client-cert"] });
  client = createKmsClient({ address: server.address, tls: { ca: tls.cert } });
  [A, B] = await Promise.all([setupPki(server, { policy: SERVICE_POLICY }), setupPki(server, { policy: SERVICE_POLICY })]);
  webId = await serviceIdentity("web", A);
  webB = await serviceIdentity("web", B);
  for (const id of [webId, webB]) await must(admin("POST", `/api/v1/auth/service-key/identities/${id}/keys`, { keyVersion: "v1", publicKey: publicKeyPem(webKey.key) }));
});

after(async () => {
  await client?.close();
  await server?.cleanup();
});

describe("service key pairs", () => {
  test("kms svccert writes a certificate with the DNS and SPIFFE names, issued by the project's CA", async () => {
    const certFile = join(dir, "web.crt");
    const caFile = join(dir, "web-ca.crt");
    const r = await svccert(["--project", A.projectSlug, "--identity", "web", "--private-key", webKey.path, "--key-version", "v1", "--dns-domain", DOMAIN,
      "--profile", A.profileSlug, "--cert-file", certFile, "--ca-cert-file", caFile, "--expiry", "24h"]);
    assert.equal(r.code, 0, r.out);
    const cert = new X509Certificate(readFileSync(certFile));
    assert.equal(cert.subjectAltName, `DNS:web.${A.projectSlug}.${DOMAIN}, URI:spiffe://${DOMAIN}/ns/${A.projectSlug}/sa/web`);
    assert.ok(Math.abs(Date.parse(cert.validTo) - Date.now() - 86_400_000) < 120_000, cert.validTo);
    writeFileSync(join(dir, "root.crt"), A.rootCaPem);
    opensslOk("verify", "-CAfile", join(dir, "root.crt"), "-untrusted", caFile, certFile);
  });

  test("a service JWT logs in once; a replayed jti is refused", async () => {
    const jwt = await jwtFor();
    const t = await client.serviceKeyLogin({ jwt });
    assert.equal(t.expiresIn, 600);
    await assert.rejects(client.serviceKeyLogin({ jwt }), /401.*jti was already used \(replayed token\)|jti was already used/);
    // By name: sub "web" plus the project claim.
    await client.serviceKeyLogin({ jwt: await jwtFor({ identity: "web", project: A.projectSlug }) });
  });

  test("a replay is refused also inside the clock tolerance after exp", async () => {
    // Expired 10 s ago: still inside the 30 s the server allows for clock skew, so it verifies once.
    const jwt = await jwtFor({ nowMs: Date.now() - 70_000, lifetimeSeconds: 60 });
    await client.serviceKeyLogin({ jwt });
    await assert.rejects(client.serviceKeyLogin({ jwt }), /jti was already used \(replayed token\)/);
  });

  for (const [name, make, reason] of [
    ["wrong audience", () => jwtFor({ audience: "https://kms.elsewhere.example" }), /wrong audience/],
    ["expired token", () => jwtFor({ nowMs: Date.now() - 20 * 60_000 }), /has expired/],
    ["bad signature (another key under the same key version)", () => jwtFor({ key: rogueKey }), /bad signature/],
    ["unknown key version", () => jwtFor({ keyVersion: "v9" }), /no public key is registered under key version "v9"/],
    ["lifetime over 10 minutes", () => new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "v1" }).setSubject(webId).setAudience(server.address)
      .setIssuedAt().setExpirationTime("1h").setJti("long-lived").sign(webKey.key.key), /lives longer than the allowed 600 seconds/],
    ["an algorithm that does not fit the registered key", async () => new SignJWT({}).setProtectedHeader({ alg: "EdDSA", kid: "v1" }).setSubject(webId).setAudience(server.address)
      .setIssuedAt().setExpirationTime("5m").setJti(randomUUID()).sign(generateKeyPairSync("ed25519").privateKey), /the token's algorithm "EdDSA" does not fit the key it is checked with/],
    ["identity name in another project", () => jwtFor({ identity: "web", project: "no-such-project" }), /no identity "web" with service key auth in project "no-such-project"/],
  ] as const)
    test(`refused: ${name}`, async () => {
      const r = await api(server.address, "POST", "/api/v1/auth/service-key/login", { body: { jwt: await make() } });
      assert.equal(r.status, 401, r.text);
      assert.match(r.body.message, reason);
    });

  test("a private key pasted as the public key is refused, and nothing is registered", async () => {
    const r = await admin("POST", `/api/v1/auth/service-key/identities/${webId}/keys`, { keyVersion: "pasted-private", publicKey: rogueKey.pem });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.message, /^publicKey: this is a private key/);
    assert.doesNotMatch(r.text, /PRIVATE KEY-----\n[A-Za-z0-9+/]/, "the key is not echoed");
    const keys = await must(admin("GET", `/api/v1/auth/service-key/identities/${webId}/keys`));
    assert.ok(!keys.serviceKeys.some((k: { keyVersion: string }) => k.keyVersion === "pasted-private"));
  });

  test("a bad ttl is refused naming the field ttl, before the JWT is spent", async () => {
    const jwt = await jwtFor();
    const csr = await csrFor(webKey, "web", A.projectSlug);
    const r = await api(server.address, "POST", "/api/v1/auth/service-key/certificate", { body: { jwt, csr, ttl: "ten days" } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.message, /^ttl: invalid duration "ten days"/);
    const ok = await api(server.address, "POST", "/api/v1/auth/service-key/certificate", { body: { jwt, csr, ttl: "10d" } });
    assert.equal(ok.status, 200, ok.text);
  });

  test("a CSR for other names than the identity's is refused with the expected names", async () => {
    const csr = await buildServiceCsr(webKey.key, serviceNames({ identity: "db", project: A.projectSlug, dnsDomain: DOMAIN }));
    const r = await api(server.address, "POST", "/api/v1/auth/service-key/certificate", { body: { jwt: await jwtFor(), csr } });
    assert.equal(r.status, 403, r.text);
    assert.match(r.body.message, new RegExp(`DNS name "db\\.${A.projectSlug}\\.${DOMAIN.replace(/\./g, "\\.")}" is not <identity>`));
  });
});

describe("instance register tokens", () => {
  test("a token is spent once by kms svccert; a second use and a wrong instance are refused", async () => {
    const { token, expiresAt } = await must(admin("POST", `/api/v1/auth/service-key/identities/${webId}/instance-register-tokens`, { instanceId: "i-0001" }));
    assert.ok(Math.abs(Date.parse(expiresAt) - Date.now() - 30 * 60_000) < 60_000, "valid 30 minutes by default");
    const instanceKey = newKey("i-0001");
    const args = ["--project", A.projectSlug, "--identity", "web", "--private-key", instanceKey.path, "--dns-domain", DOMAIN, "--cert-file", join(dir, "i-0001.crt")];
    const wrong = await svccert([...args, "--instance-register-token", token, "--instance", "i-0002"]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.out, /bound to instance "i-0001", not "i-0002"/);
    const first = await svccert([...args, "--instance-register-token", token, "--instance", "i-0001"]);
    assert.equal(first.code, 0, first.out);
    assert.match(new X509Certificate(readFileSync(join(dir, "i-0001.crt"))).subjectAltName!, /DNS:web\./);
    const second = await svccert([...args, "--instance-register-token", token, "--instance", "i-0001"]);
    assert.equal(second.code, 1);
    assert.match(second.out, /instance register token has already been used/);
    // Flags that belong together, checked before anything is sent.
    for (const [extra, message] of [
      [["--instance", "i-0001"], /--instance only applies with --instance-register-token/],
      [["--instance-register-token", token], /--instance-register-token needs --instance <id>/],
      [["--refresh", "--instance-register-token", token, "--instance", "i-0001"], /--refresh and --instance-register-token are different flows/],
    ] as const) {
      const r = await svccert([...args, ...extra]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, message);
    }
  });

  test("a bad ttl does not spend the token", async () => {
    const { token } = await must(admin("POST", `/api/v1/auth/service-key/identities/${webId}/instance-register-tokens`, { instanceId: "i-ttl" }));
    const csr = await csrFor(webKey, "web", A.projectSlug);
    const r = await api(server.address, "POST", "/api/v1/auth/service-key/instance-register", { body: { token, instanceId: "i-ttl", csr, ttl: "1 week" } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.message, /^ttl: .*"1 week"/);
    const ok = await api(server.address, "POST", "/api/v1/auth/service-key/instance-register", { body: { token, instanceId: "i-ttl", csr, ttl: "7d" } });
    assert.equal(ok.status, 200, ok.text);
  });

  test("only an organization admin or the identity itself may ask for one", async () => {
    const member = await api(server.address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId: A.clientId, clientSecret: A.clientSecret } });
    const r = await api(server.address, "POST", `/api/v1/auth/service-key/identities/${webId}/instance-register-tokens`, { token: member.body.accessToken, body: { instanceId: "i-x" } });
    assert.equal(r.status, 403, r.text);
  });
});

describe("renewal with the certificate held (mTLS)", () => {
  test("kms svccert --refresh renews the same identity and names", async () => {
    const certFile = join(dir, "refresh.crt");
    writeFileSync(certFile, (await issueDirect()).certificate);
    const old = new X509Certificate(readFileSync(certFile));
    const r = await svccert(["--refresh", "--project", A.projectSlug, "--identity", "web", "--private-key", webKey.path, "--dns-domain", DOMAIN, "--cert-file", certFile]);
    assert.equal(r.code, 0, r.out);
    const renewed = new X509Certificate(readFileSync(certFile));
    assert.notEqual(renewed.serialNumber, old.serialNumber);
    assert.equal(renewed.subjectAltName, old.subjectAltName);
    assert.equal(renewed.subject, old.subject);
  });

  test("a --private-key that is not the certificate's key is named before connecting", async () => {
    const certFile = join(dir, "mismatch.crt");
    writeFileSync(certFile, (await issueDirect()).certificate);
    const r = await svccert(["--refresh", "--project", A.projectSlug, "--identity", "web", "--private-key", rogueKey.path, "--dns-domain", DOMAIN, "--cert-file", certFile]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /--private-key: .*rogue\.key" is not the private key of the certificate in .*mismatch\.crt"/);
    assert.doesNotMatch(r.out, /cannot reach the KMS/);
  });

  test("refused: a revoked certificate", async () => {
    const c = await issueDirect();
    await must(admin("POST", `/api/v1/cert-manager/certificates/${c.certificateId}/revoke`, { revocationReason: "KEY_COMPROMISE" }));
    await assert.rejects(refreshWith(c.certificate), /has been revoked/);
  });

  test("refused: an expired certificate", async () => {
    const c = await issueDirect("2s");
    await new Promise((r) => setTimeout(r, 2_500));
    await assert.rejects(refreshWith(c.certificate), /expired at/);
  });

  test("refused: a certificate of another project's CA", async () => {
    const c = await issueDirect(undefined, webB, B.projectSlug);
    await assert.rejects(refreshWith(c.certificate), new RegExp(`issued by a CA of another project \\('${B.projectSlug}'\\), not '${A.projectSlug}'`));
  });

  test("refused: a certificate this server never issued, also one with the serial of one it did; no certificate at all", async () => {
    opensslOk("req", "-x509", "-key", webKey.path, "-subj", `/CN=web.${A.projectSlug}.${DOMAIN}`, "-days", "1", "-out", join(dir, "self.crt"));
    await assert.rejects(refreshWith(readFileSync(join(dir, "self.crt"), "utf8")), /not issued by this server/);
    // A look-alike with the serial of a certificate we did issue (the lookup goes by serial): the bytes differ.
    const issued = new X509Certificate((await issueDirect()).certificate);
    opensslOk("req", "-x509", "-key", webKey.path, "-subj", `/CN=web.${A.projectSlug}.${DOMAIN}`, "-days", "1", "-set_serial", `0x${issued.serialNumber}`, "-out", join(dir, "twin.crt"));
    assert.equal(new X509Certificate(readFileSync(join(dir, "twin.crt"))).serialNumber, issued.serialNumber);
    await assert.rejects(refreshWith(readFileSync(join(dir, "twin.crt"), "utf8")), /not issued by this server/);
    const r = await api(server.address, "POST", "/api/v1/auth/service-key/refresh", { body: { csr: await csrFor(webKey, "web", A.projectSlug) } });
    assert.equal(r.status, 401);
    assert.match(r.body.message, /no client certificate was presented/);
  });
});

describe("tls-cert auth (the agent's login with the certificate held)", () => {
  let certPath: string;
  before(async () => {
    certPath = join(dir, "agent.crt");
    writeFileSync(certPath, (await issueDirect()).certificate);
    await must(admin("POST", `/api/v1/auth/tls-cert-auth/identities/${webId}`, { projectId: A.projectId, accessTokenTTL: 600 }));
  });
  const method = (identityId: string, cert = certPath) =>
    createAuthMethod(AuthConfig.parse({ type: "tls-cert", config: { "identity-id": identityId, certificate: cert, "private-key": webKey.path, "ca-certificate": tls.certPath } }));

  test("the agent logs in with its service certificate and renews the token", async () => {
    const t = await method(webId).login(client);
    assert.equal(t.expiresIn, 600);
    await client.renewToken(t.accessToken);
  });

  test("another identity accepts the certificate by allowed names, or refuses it without them", async () => {
    const ops = (await must(admin("POST", "/api/v1/identities", { name: "ops", organizationId: server.orgId }))).identity.id;
    await must(admin("POST", `/api/v1/auth/tls-cert-auth/identities/${ops}`, { projectId: A.projectId, allowedNames: `*.${A.projectSlug}.${DOMAIN}` }));
    await method(ops).login(client);
    const strict = (await must(admin("POST", "/api/v1/identities", { name: "strict", organizationId: server.orgId }))).identity.id;
    await must(admin("POST", `/api/v1/auth/tls-cert-auth/identities/${strict}`, { projectId: A.projectId }));
    await assert.rejects(method(strict).login(client), /not a service certificate of this identity/);
  });

  test("a private key that does not belong to the certificate is named, not reported as an unreachable KMS", async () => {
    const m = createAuthMethod(AuthConfig.parse({ type: "tls-cert", config: { "identity-id": webId, certificate: certPath, "private-key": rogueKey.path, "ca-certificate": tls.certPath } }));
    await assert.rejects(m.login(client), /private-key: file ".*rogue\.key" is not the private key of the certificate in ".*agent\.crt"/);
  });

  test("refused: a certificate of another project's CA, and a revoked one", async () => {
    const other = join(dir, "other-project.crt");
    writeFileSync(other, (await issueDirect(undefined, webB, B.projectSlug)).certificate);
    await assert.rejects(method(webId, other).login(client), new RegExp(`TLS certificate auth login refused: the client certificate was issued by a CA of another project \\('${B.projectSlug}'\\)`));
    const c = await issueDirect();
    const revoked = join(dir, "revoked.crt");
    writeFileSync(revoked, c.certificate);
    await must(admin("POST", `/api/v1/cert-manager/certificates/${c.certificateId}/revoke`, {}));
    await assert.rejects(method(webId, revoked).login(client), /has been revoked/);
  });
});

test("the certificate agent runs with auth type tls-cert: no universal-auth secret on the host", async () => {
  await must(admin("POST", `/api/v1/projects/${A.projectId}/memberships/identities/${webId}`, { roles: [{ role: "member", isTemporary: false }] }));
  const held = join(dir, "held.crt");
  writeFileSync(held, (await issueDirect()).certificate);
  const name = `web.${A.projectSlug}.${DOMAIN}`;
  const out = join(dir, "agent-out");
  const config = join(dir, "cert-agent.yaml");
  writeFileSync(config, `version: v1
kms:
  address: "${server.address}"
auth:
  type: "tls-cert"
  config:
    identity-id: "${webId}"
    certificate: "${held}"
    private-key: "${webKey.path}"
    ca-certificate: "${tls.certPath}"
certificates:
  - profile-name: "${A.profileSlug}"
    project-slug: "${A.projectSlug}"
    attributes:
      common-name: "${name}"
      alt-names: ["${name}"]
      ttl: "1h"
      key-algorithm: "EC_prime256v1"
    file-output:
      private-key:
        path: "${out}/web.key"
      certificate:
        path: "${out}/web.crt"
`);
  // The agent's own HTTP client trusts the server's self-signed certificate the standard Node way.
  const agent = spawn(process.execPath, [...unitNodeFlags("kms-cert-agent.service"), KMS_BIN, "cert-manager", "agent", "--config", config], { env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.certPath }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  agent.stdout.on("data", (d) => (log += d));
  agent.stderr.on("data", (d) => (log += d));
  try {
    const deadline = Date.now() + 30_000;
    while (!existsSync(join(out, "web.crt")) && Date.now() < deadline && agent.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    assert.ok(existsSync(join(out, "web.crt")), `the agent wrote no certificate:\n${log}`);
    assert.match(new X509Certificate(readFileSync(join(out, "web.crt"))).subjectAltName!, new RegExp(`DNS:${name.replace(/\./g, "\\.")}`));
  } finally {
    agent.kill("SIGTERM");
  }
});
