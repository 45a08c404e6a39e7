/**
 * The certificate agent against a profile whose CA is pebble: the issue answer is pending, the agent polls,
 * writes the files when issued and renews through the same path; a failed challenge ends in on-failure; a
 * restarted agent resumes polling the request in its state file instead of ordering again.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl } from "../helpers/openssl.js";
import { needPebble, startPebble, type Pebble } from "../helpers/pebble.js";
import { agentScope, inventory, keyMatches, serialOf, until } from "./cert-agent-harness.js";

let s: TestServer | undefined;
let pebble: Pebble | undefined;
let fx: PkiFixture;
const agents = agentScope();
const lines = (p: string) => (existsSync(p) ? readFileSync(p, "utf8").split("\n").filter(Boolean) : []);

before(async (t) => {
  if (!needPebble(t as never)) return;
  // The worker looks every second: a request stays pending long enough to restart an agent in the middle.
  s = await startServer({ env: { KMS_EXTERNAL_CA_POLL_MS: "1000" } });
  pebble = await startPebble(Number(new URL(s.address).port), { validitySeconds: 40 });
  fx = await setupPki(s);
});
after(async () => { await agents.killAll(); await pebble?.stop(); await s?.cleanup(); });

const profile = async (slug: string) => {
  const ca = await api(s!.address, "POST", "/api/v1/cert-manager/ca/acme", { token: s!.adminToken, body: {
    projectId: fx.projectId, name: slug, directoryUrl: pebble!.directoryUrl, accountEmail: "pki@example.com", caBundle: pebble!.tlsCa,
  } });
  assert.equal(ca.status, 200, ca.text);
  const p = await api(s!.address, "POST", "/api/v1/cert-manager/certificate-profiles", { token: s!.adminToken, body: {
    projectId: fx.projectId, certificatePolicyId: fx.policyId, caId: ca.body.id, slug, enrollmentType: "api", issuerType: "ca", apiConfig: { autoRenew: false },
  } });
  assert.equal(p.status, 200, p.text);
  return p.body.certificateProfile.id as string;
};

const config = (dir: string, slug: string, cn: string, renewBefore = "25s", keySource = "server") => {
  const p = join(dir, "agent.yaml");
  writeFileSync(p, `version: v1
kms:
  address: "${s!.address}"
auth:
  type: "universal-auth"
  config:
    client-id: "${fx.clientId}"
    client-secret: "${fx.clientSecret}"
certificates:
  - profile-name: "${slug}"
    project-slug: "${fx.projectSlug}"
    key-source: "${keySource}"
    attributes:
      common-name: "${cn}"
      alt-names: ["${cn}"]
      key-algorithm: "EC_prime256v1"
      extended-key-usages: ["server_auth"]
    lifecycle:
      renew-before-expiry: "${renewBefore}"
      status-check-interval: "1s"
      failure-retry-interval: "30s"
    file-output:
      private-key: { path: "${dir}/tls.key" }
      certificate: { path: "${dir}/tls.crt", permission: "0644" }
      chain: { path: "${dir}/chain.crt", permission: "0644" }
    post-hooks:
      on-issuance: { command: 'echo "$CERT_SERIAL_NUMBER" >> ${dir}/issued.log' }
      on-renewal: { command: 'echo "$CERT_SERIAL_NUMBER" >> ${dir}/renewed.log' }
      on-failure: { command: 'printf "%s\\n" "$ERROR_MESSAGE" >> ${dir}/failed.log' }
`);
  return p;
};

const verify = async (dir: string) => {
  const root = join(dir, "pebble-root.pem");
  writeFileSync(root, await pebble!.root());
  const v = openssl("verify", "-CAfile", root, "-untrusted", join(dir, "chain.crt"), join(dir, "tls.crt"));
  assert.equal(v.status, 0, v.out);
  assert.ok(keyMatches(join(dir, "tls.crt"), join(dir, "tls.key")));
};

test("the agent follows the pending path: polls, writes files that verify against pebble's root, renews through the same path", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  await profile("agent-web");
  const dir = mkdtempSync(join(tmpdir(), "kms-ext-agent-"));
  const agent = agents.spawn(["--config", config(dir, "agent-web", "agent.example.com")]);
  await agent.waitFor(/certificate request pending, polling/, 20_000);
  await until(() => lines(join(dir, "issued.log")).length === 1, 30_000, "issued");
  await verify(dir);
  const first = serialOf(join(dir, "tls.crt"));
  // pebble certificates live 40 s here; renewal starts 25 s before the end, through a new pending request.
  await until(() => lines(join(dir, "renewed.log")).length >= 1, 45_000, "renewed");
  const second = serialOf(join(dir, "tls.crt"));
  assert.notEqual(second, first);
  await verify(dir);
  assert.deepEqual(lines(join(dir, "failed.log")), []);
  await agent.stop();
});

test("a failed challenge ends in on-failure with the CA's reason, and no files are written", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  await fetch(`${pebble!.challtestsrv}/add-a`, { method: "POST", body: JSON.stringify({ host: "unreachable.example.com.", addresses: ["127.0.0.2"] }) });
  await profile("agent-fail");
  const dir = mkdtempSync(join(tmpdir(), "kms-ext-agent-"));
  const agent = agents.spawn(["--config", config(dir, "agent-fail", "unreachable.example.com")]);
  await until(() => lines(join(dir, "failed.log")).length >= 1, 30_000, "on-failure");
  assert.match(lines(join(dir, "failed.log"))[0]!, /failed: ACME CA 'agent-fail' refused the order: http-01 challenge for unreachable\.example\.com failed/);
  assert.equal(existsSync(join(dir, "tls.crt")), false);
  assert.equal(existsSync(join(dir, "tls.key")), false);
  const statePath = join(dir, "tls.crt.kms-state.json");
  if (existsSync(statePath)) assert.equal(JSON.parse(readFileSync(statePath, "utf8")).pendingRequest, undefined, "a failed request is forgotten, not polled again");
  await agent.stop();
});

test("an agent killed while its request is pending resumes polling that request after a restart, ordering nothing new", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const profileId = await profile("agent-resume");
  const dir = mkdtempSync(join(tmpdir(), "kms-ext-agent-"));
  const cfg = config(dir, "agent-resume", "resume.example.com", "5s");
  const first = agents.spawn(["--config", cfg]);
  await first.waitFor(/certificate request pending, polling/, 20_000);
  await first.stop("SIGKILL");
  const state = JSON.parse(readFileSync(join(dir, "tls.crt.kms-state.json"), "utf8"));
  assert.ok(state.pendingRequest?.id, "the state file holds the pending request");
  const second = agents.spawn(["--config", cfg]);
  await second.waitFor(/resuming pending certificate request/, 20_000);
  await until(() => lines(join(dir, "issued.log")).length === 1, 30_000, "issued after resume");
  await verify(dir);
  const mine = (await inventory(s, fx.projectId)).filter((c) => c.serialNumber && c.status === "active");
  const forProfile = [];
  for (const c of mine) {
    const r = await api(s.address, "GET", `/api/v1/cert-manager/certificates/${c.id}`, { token: s.adminToken });
    if (r.body.certificate.profileId === profileId) forProfile.push(c);
  }
  assert.equal(forProfile.length, 1, "one certificate: the restarted agent did not order again");
  assert.equal(forProfile[0]!.serialNumber.replace(/^0+/, "").toLowerCase(), serialOf(join(dir, "tls.crt")).replace(/^0+/, ""));
  await second.stop();
});

test("key-source local: an agent killed while pending keeps the request's key (0600) and resumes with it after a restart", async (t) => {
  if (!s) return t.skip("pebble missing (see above)");
  const profileId = await profile("agent-resume-local");
  const dir = mkdtempSync(join(tmpdir(), "kms-ext-agent-"));
  const cfg = config(dir, "agent-resume-local", "resume-local.example.com", "5s", "local");
  const first = agents.spawn(["--config", cfg]);
  await first.waitFor(/certificate request pending, polling/, 20_000);
  await first.stop("SIGKILL");
  const statePath = join(dir, "tls.crt.kms-state.json");
  const state = JSON.parse(readFileSync(statePath, "utf8"));
  assert.ok(state.pendingRequest?.id, "the state file holds the pending request");
  assert.equal(state.pendingRequest.keyFile, `${statePath}.pending-key`);
  assert.equal(statSync(state.pendingRequest.keyFile).mode & 0o777, 0o600, "the pending key is readable by the agent only");
  const pendingKey = readFileSync(state.pendingRequest.keyFile, "utf8");
  const second = agents.spawn(["--config", cfg]);
  await second.waitFor(/resuming pending certificate request/, 20_000);
  await until(() => lines(join(dir, "issued.log")).length === 1, 30_000, "issued after resume");
  await verify(dir);
  assert.equal(readFileSync(join(dir, "tls.key"), "utf8").trim(), pendingKey.trim(), "the key file is the key the request was made for");
  assert.ok(!existsSync(state.pendingRequest.keyFile), "the pending key is removed once the certificate is installed");
  const forProfile = [];
  for (const c of await inventory(s, fx.projectId)) {
    const r = await api(s.address, "GET", `/api/v1/cert-manager/certificates/${c.id}`, { token: s.adminToken });
    if (r.body.certificate.profileId === profileId) forProfile.push(c);
  }
  assert.equal(forProfile.length, 1, "one certificate: the restarted agent did not order again");
  await second.stop();
});
