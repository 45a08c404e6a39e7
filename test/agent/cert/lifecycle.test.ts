import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, statSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { failureDelay } from "../../../src/agent/cert/lifecycle.js";
import { startCertAgent } from "../../../src/agent/cert/runner.js";
import type { CertAgentHandle } from "../../../src/agent/cert/runner.js";
import { generateKeyAndCsr } from "../../../src/agent/cert/keys.js";
import type { HookSpec } from "../../../src/agent/hooks.js";
import { loadCertAgentConfig } from "../../../src/config/cert-agent.js";
import { FakeClock } from "../fake-clock.js";
import { createLogger } from "../../../src/agent/log.js";
import type { Logger } from "../../../src/agent/log.js";
import { createFakeKms } from "./fake-kms.js";
import type { FakeKms } from "./fake-kms.js";

const modeOf = (p: string) => statSync(p).mode & 0o777;

interface Rig {
  dir: string;
  clock: FakeClock;
  kms: FakeKms;
  hooks: { name: string; env: Record<string, string> }[];
  start(certs: string, extra?: { stateDir?: string; logger?: Logger }): CertAgentHandle;
  /** Starts an agent on these certificates, runs the clock until it is ready, and stops it. */
  runOnce(certs: string): Promise<void>;
}

const rig = async (): Promise<Rig> => {
  const dir = mkdtempSync(join(tmpdir(), "kms-lifecycle-test-"));
  const clock = new FakeClock();
  const kms = await createFakeKms({ now: clock.now });
  const hooks: Rig["hooks"] = [];
  const runHook = async (spec: HookSpec) => {
    hooks.push({ name: spec.name, env: spec.env });
    return { exitCode: 0, signal: null, timedOut: false, durationMs: 0 };
  };
  const rigged: Rig = {
    dir,
    clock,
    kms,
    hooks,
    start: (certs, extra = {}) => {
      const yaml = `kms:\n  address: http://fake.invalid\nauth:\n  type: universal-auth\n  config:\n    client-id: id\n    client-secret: secret\ncertificates:\n${certs}`;
      const r = loadCertAgentConfig(yaml);
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      clock.sleepers = 1 + r.value.certificates.length; // the token loop and one loop per certificate
      return startCertAgent(r.value, { client: kms.client, clock, random: () => 0.5, runHook, stateDir: extra.stateDir, logger: extra.logger ?? (process.env.KMS_TEST_LOG ? createLogger({ level: "debug", clock }) : undefined) });
    },
    runOnce: async (certs) => {
      const h = rigged.start(certs);
      await clock.runUntil(() => h.ready());
      await h.stop();
    },
  };
  return rigged;
};

const hooksYaml = `    post-hooks:
      on-issuance: { command: "true" }
      on-renewal: { command: "true" }
      on-failure: { command: "true" }
`;
const serverCert = (dir: string, opts: { ttl?: string; before?: string; check?: string; cn?: string; extra?: string } = {}) => `  - profile-name: web
    project-slug: demo
    attributes:
      common-name: ${opts.cn ?? "api.example.com"}
      alt-names: [api.example.com]
${opts.ttl ? `      ttl: ${opts.ttl}\n` : ""}    lifecycle:
${opts.before ? `      renew-before-expiry: ${opts.before}\n` : ""}      status-check-interval: ${opts.check ?? "1m"}
    file-output:
      private-key: { path: ${dir}/web.key }
      certificate: { path: ${dir}/web.crt, permission: "0644" }
      chain: { path: ${dir}/chain.crt, permission: "0640", omit-root: false }
${hooksYaml}${opts.extra ?? ""}`;

const serialOnDisk = (dir: string, name = "web.crt") => new X509Certificate(readFileSync(join(dir, name))).serialNumber.toLowerCase();
const keyMatches = (dir: string) => new X509Certificate(readFileSync(join(dir, "web.crt"))).checkPrivateKey(createPrivateKey(readFileSync(join(dir, "web.key"))));

test("issues at start: key, chain and certificate with their modes, state 0600, on-issuance with every variable", async () => {
  const r = await rig();
  const h = r.start(serverCert(r.dir, { ttl: "1h", before: "20m" }));
  await r.clock.runUntil(() => h.ready());
  await h.stop();
  assert.equal(modeOf(join(r.dir, "web.key")), 0o600);
  assert.equal(modeOf(join(r.dir, "web.crt")), 0o644);
  assert.equal(modeOf(join(r.dir, "chain.crt")), 0o640);
  assert.equal(modeOf(join(r.dir, "web.crt.kms-state.json")), 0o600);
  assert.ok(keyMatches(r.dir));
  assert.match(readFileSync(join(r.dir, "chain.crt"), "utf8"), /BEGIN CERTIFICATE/);
  const state = JSON.parse(readFileSync(join(r.dir, "web.crt.kms-state.json"), "utf8"));
  assert.equal(state.current.profileName, "web");
  assert.equal(state.current.projectSlug, "demo");
  assert.equal(state.current.serialNumber, serialOnDisk(r.dir));
  assert.ok(state.current.certificateId);
  assert.equal(state.current.fingerprint.length, 64);
  assert.deepEqual(r.hooks.map((x) => x.name), ["on-issuance"]);
  const env = r.hooks[0]!.env;
  assert.equal(env.CERT_COMMON_NAME, "api.example.com");
  assert.equal(env.CERT_FILE_PATH, join(r.dir, "web.crt"));
  assert.equal(env.CERT_KEY_FILE_PATH, join(r.dir, "web.key"));
  assert.equal(env.CERT_CHAIN_FILE_PATH, join(r.dir, "chain.crt"));
  assert.equal(env.CERT_SERIAL_NUMBER, state.current.serialNumber);
  assert.equal(env.CERT_NOT_AFTER, new Date(r.clock.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z"));
  assert.equal(env.CERT_PROFILE_NAME, "web");
  assert.equal(env.CERT_PROJECT_SLUG, "demo");
  assert.equal(env.EVENT, "issuance");
  assert.equal(env.ERROR_MESSAGE, undefined);
});

test("a restart reuses the certificate on disk and never issues", async () => {
  const r = await rig();
  const a = r.start(serverCert(r.dir, { ttl: "1h", before: "20m" }));
  await r.clock.runUntil(() => a.ready());
  await a.stop();
  const serial = serialOnDisk(r.dir);
  const before = readFileSync(join(r.dir, "web.crt"), "utf8");
  for (let i = 0; i < 3; i++) {
    const b = r.start(serverCert(r.dir, { ttl: "1h", before: "20m" }));
    await r.clock.runUntil(() => b.ready() && r.kms.count("status") > i);
    await b.stop();
  }
  assert.equal(r.kms.count("issue"), 1);
  assert.equal(serialOnDisk(r.dir), serial);
  assert.equal(readFileSync(join(r.dir, "web.crt"), "utf8"), before);
  assert.deepEqual(r.hooks.map((x) => x.name), ["on-issuance"]);
});

test("a changed request, a mismatched key or an unparsable file triggers a fresh issuance", async () => {
  const r = await rig();
  const run = r.runOnce;
  await run(serverCert(r.dir, { ttl: "1h" }));
  assert.equal(r.kms.count("issue"), 1);
  await run(serverCert(r.dir, { ttl: "2h" }));
  assert.equal(r.kms.count("issue"), 2, "changed ttl");
  const { privateKeyPem } = await generateKeyAndCsr("EC_prime256v1", undefined, {});
  writeFileSync(join(r.dir, "web.key"), privateKeyPem);
  await run(serverCert(r.dir, { ttl: "2h" }));
  assert.equal(r.kms.count("issue"), 3, "mismatched key");
  assert.ok(keyMatches(r.dir));
  writeFileSync(join(r.dir, "web.crt"), "garbage");
  await run(serverCert(r.dir, { ttl: "2h" }));
  assert.equal(r.kms.count("issue"), 4, "unparsable certificate");
  writeFileSync(join(r.dir, "web.crt.kms-state.json"), "{");
  await run(serverCert(r.dir, { ttl: "2h" }));
  assert.equal(r.kms.count("issue"), 5, "unparsable state");
});

test("renews when notAfter − now ≤ renew-before-expiry (+ jitter ≤ 5% of lifetime), through the renew route", async () => {
  const r = await rig();
  const h = r.start(serverCert(r.dir, { ttl: "1h", before: "20m", check: "1m" }));
  await r.clock.runUntil(() => h.ready());
  const t0 = r.clock.now();
  const first = serialOnDisk(r.dir);
  await r.clock.runUntil(() => r.kms.count("renew") === 1 && serialOnDisk(r.dir) !== first);
  const renewedAfter = r.clock.now() - t0;
  // random() is 0.5 → jitter 2.5% of 60 min = 90 s earlier than the 40 min mark.
  assert.ok(Math.abs(renewedAfter - (40 * 60_000 - 90_000)) < 2_000, `renewed after ${renewedAfter} ms`);
  assert.ok(keyMatches(r.dir));
  await r.clock.runUntil(() => r.hooks.length === 2);
  assert.deepEqual(r.hooks.map((x) => x.name), ["on-issuance", "on-renewal"]);
  assert.equal(r.hooks[1]!.env.EVENT, "renewal");
  assert.equal(r.hooks[1]!.env.CERT_SERIAL_NUMBER.toLowerCase(), serialOnDisk(r.dir));
  // And again for the next certificate.
  await r.clock.runUntil(() => r.kms.count("renew") === 2);
  await h.stop();
  assert.equal(r.kms.count("issue"), 1);
});

test("without renew-before-expiry there is no automatic renewal", async () => {
  const r = await rig();
  const h = r.start(serverCert(r.dir, { ttl: "1h", check: "10m" }));
  await r.clock.runUntil(() => h.ready());
  await r.clock.advance(50 * 60_000);
  await h.stop();
  assert.equal(r.kms.count("issue"), 1);
  assert.equal(r.kms.count("renew"), 0);
});

test("without renewal, an expired certificate makes the agent not ready and is issued anew, as a restart would", async () => {
  const r = await rig();
  const h = r.start(serverCert(r.dir, { ttl: "1h", check: "6h" }));
  await r.clock.runUntil(() => h.ready());
  const issuedAt = r.clock.now();
  const first = serialOnDisk(r.dir);
  await r.clock.advance(45 * 60_000); // the access token is renewed (at 2/3 of its hour) before the KMS goes down
  r.kms.setDown(true);
  await r.clock.runUntil(() => r.clock.now() >= issuedAt + 3_600_000 && r.hooks.some((x) => x.name === "on-failure"));
  assert.equal(h.ready(), false, "expired: not ready");
  assert.ok(r.clock.now() - issuedAt < 3_600_000 + 60_000, "the attempt came at expiry, not at the next 6 h check");
  r.kms.setDown(false);
  await r.clock.runUntil(() => h.ready());
  await h.stop();
  assert.notEqual(serialOnDisk(r.dir), first);
  assert.equal(r.kms.count("renew"), 0);
  assert.ok(keyMatches(r.dir));
  assert.deepEqual(r.hooks.filter((x) => x.name !== "on-failure").map((x) => x.name), ["on-issuance", "on-issuance"]);
});

test("a chain file that does not parse, holds another block, or is emptied is repaired; an empty expected chain is kept", async () => {
  const r = await rig();
  const run = r.runOnce;
  await run(serverCert(r.dir, { ttl: "1h" }));
  let issued = 1;
  const good = readFileSync(join(r.dir, "chain.crt"), "utf8");
  for (const [what, content] of [
    ["garbage", "garbage"],
    ["empty", ""],
    ["a torn certificate", good.slice(0, good.length / 2)],
    ["a key instead", readFileSync(join(r.dir, "web.key"), "utf8")],
  ]) {
    writeFileSync(join(r.dir, "chain.crt"), content!);
    await run(serverCert(r.dir, { ttl: "1h" }));
    assert.equal(r.kms.count("issue"), ++issued, what);
    assert.equal(readFileSync(join(r.dir, "chain.crt"), "utf8"), good, what);
  }
  const omitting = serverCert(r.dir, { ttl: "1h" }).replace("omit-root: false", "omit-root: true");
  await run(omitting);
  assert.equal(readFileSync(join(r.dir, "chain.crt"), "utf8"), "");
  await run(omitting);
  assert.equal(r.kms.count("issue"), issued + 1, "an empty chain that was written empty is reused");
});

test("serial numbers are lowercase hex, as the server reports them, also after a restart", async () => {
  const r = await rig();
  const a = r.start(serverCert(r.dir, { ttl: "1h", before: "20m" }));
  await r.clock.runUntil(() => a.ready());
  await a.stop();
  const serial = JSON.parse(readFileSync(join(r.dir, "web.crt.kms-state.json"), "utf8")).current.serialNumber as string;
  assert.match(serial, /^[0-9a-f]+$/);
  assert.match(serial, /[a-f]/, "the fake's serials have letters, so case matters");
  const b = r.start(serverCert(r.dir, { ttl: "1h", before: "20m" }));
  await r.clock.runUntil(() => b.ready() && r.kms.count("status") > 1);
  r.kms.setDown(true);
  await r.clock.runUntil(() => r.hooks.some((x) => x.name === "on-failure"));
  await b.stop();
  assert.equal(r.hooks.find((x) => x.name === "on-failure")!.env.CERT_SERIAL_NUMBER, serial);
  assert.equal(b.loops()[0]!.snapshot()?.serialNumber, serial);
});

test("KMS unreachable at renewal: files kept byte-identical, on-failure with ERROR_MESSAGE, backoff, then renewal succeeds", async () => {
  const r = await rig();
  const h = r.start(serverCert(r.dir, { ttl: "1h", before: "20m", check: "1m" }));
  await r.clock.runUntil(() => h.ready());
  const files = ["web.key", "web.crt", "chain.crt"].map((f) => readFileSync(join(r.dir, f)));
  r.kms.setDown(true);
  await r.clock.runUntil(() => r.hooks.filter((x) => x.name === "on-failure").length >= 3);
  const failure = r.hooks.find((x) => x.name === "on-failure")!;
  assert.equal(failure.env.EVENT, "failure");
  assert.match(failure.env.ERROR_MESSAGE!, /cannot reach the KMS/);
  assert.equal(failure.env.CERT_SERIAL_NUMBER.toLowerCase(), serialOnDisk(r.dir));
  ["web.key", "web.crt", "chain.crt"].forEach((f, i) => assert.deepEqual(readFileSync(join(r.dir, f)), files[i], f));
  r.kms.setDown(false);
  const old = serialOnDisk(r.dir);
  await r.clock.runUntil(() => serialOnDisk(r.dir) !== old);
  await h.stop();
  assert.ok(keyMatches(r.dir));
  assert.ok(r.hooks.some((x) => x.name === "on-renewal"));
});

/** Virtual times of the first `n` on-failure hooks, from when the KMS went down. */
const failureTimes = async (r: Rig, n: number, limit?: number): Promise<number[]> => {
  const t0 = r.clock.now();
  const at: number[] = [];
  while (at.length < n && (limit === undefined || r.clock.now() - t0 < limit)) {
    const seen = r.hooks.filter((x) => x.name === "on-failure").length;
    await r.clock.runUntil(() => r.hooks.filter((x) => x.name === "on-failure").length > seen);
    at.push(r.clock.now() - t0);
  }
  return at;
};

test("failure schedule: failure-retry-interval doubling for max-failure-retries failures, then the status-check cadence", async () => {
  const r = await rig();
  const yaml = serverCert(r.dir, { ttl: "1h", before: "20m", check: "1m" }).replace("status-check-interval: 1m", "status-check-interval: 1m\n      failure-retry-interval: 10s\n      max-failure-retries: 3");
  const h = r.start(yaml);
  await r.clock.runUntil(() => h.ready());
  r.kms.setDown(true);
  const at = await failureTimes(r, 7);
  await h.stop();
  // Each attempt also spends its API retries (200 + 400 + 800 ms with random() = 0.5) twice, on the status check and
  // on the renewal: 2.8 s on top of each wait.
  const waits = at.slice(1).map((t, i) => (t - at[i]! - 2_800) / 1000);
  assert.deepEqual(waits.map(Math.round), [10, 20, 40, 60, 60, 60], `waits ${waits}`);
});

test("failure schedule: never longer than a quarter of the remaining lifetime, so attempts keep coming up to expiry", async () => {
  const r = await rig();
  const yaml = serverCert(r.dir, { ttl: "50m", before: "20m", check: "10m" }).replace("status-check-interval: 10m", "status-check-interval: 10m\n      failure-retry-interval: 1m\n      max-failure-retries: 100");
  const h = r.start(yaml);
  await r.clock.runUntil(() => h.ready());
  const expiry = r.clock.now() + 50 * 60_000;
  r.kms.setDown(true);
  const t0 = r.clock.now();
  const at = (await failureTimes(r, 100, expiry - t0 - 2_000)).map((t) => t0 + t);
  await h.stop();
  for (let i = 1; i < at.length; i++) {
    const left = expiry - at[i - 1]!;
    assert.ok(at[i]! - at[i - 1]! <= Math.max(1_000, left / 4) + 3_000, `attempt ${i}: ${(at[i]! - at[i - 1]!) / 1000} s after one with ${left / 1000} s left`);
  }
  assert.ok(at.filter((t) => expiry - t <= 31_000 && t < expiry).length >= 3, "several attempts in the last 31 s");
});

test("failureDelay: the documented schedule, table", () => {
  const s = { baseMs: 10_000, checkMs: 60_000, quickRetries: 3 };
  const half = () => 0.5;
  const cases: { name: string; failures: number; left?: number; ms: number; schedule?: typeof s }[] = [
    { name: "first failure waits failure-retry-interval", failures: 1, left: 86_400_000, ms: 10_000 },
    { name: "doubles", failures: 3, left: 86_400_000, ms: 40_000 },
    { name: "beyond max-failure-retries: the status-check cadence, not more doubling", failures: 4, left: 86_400_000, ms: 60_000 },
    { name: "and stays there", failures: 40, left: 86_400_000, ms: 60_000 },
    { name: "doubling stops at an hour", failures: 20, left: 86_400_000, ms: 3_600_000, schedule: { ...s, quickRetries: 100 } },
    { name: "31 s left: a quarter of it, not the interval", failures: 1, left: 31_000, ms: 7_750, schedule: { ...s, baseMs: 60_000 } },
    { name: "the cadence is capped too", failures: 50, left: 100_000, ms: 25_000 },
    { name: "at most once a second near expiry", failures: 1, left: 2_000, ms: 1_000 },
    { name: "nothing on disk: no lifetime cap", failures: 2, ms: 20_000 },
    { name: "expired: no lifetime cap", failures: 2, left: -5_000, ms: 20_000 },
  ];
  for (const c of cases) assert.equal(failureDelay(c.failures, c.schedule ?? s, c.left, half), c.ms, c.name);
});

test("a certificate found revoked on the server is re-issued", async () => {
  const r = await rig();
  const h = r.start(serverCert(r.dir, { ttl: "1h", before: "5m", check: "1m" }));
  await r.clock.runUntil(() => h.ready());
  const state = JSON.parse(readFileSync(join(r.dir, "web.crt.kms-state.json"), "utf8"));
  r.kms.revoke(state.current.certificateId);
  const old = serialOnDisk(r.dir);
  await r.clock.runUntil(() => serialOnDisk(r.dir) !== old, { maxVirtualMs: 5 * 60_000 });
  await h.stop();
  assert.equal(r.kms.count("issue"), 2);
  assert.equal(r.kms.count("renew"), 0);
  assert.ok(keyMatches(r.dir));
});

test("omit-root drops self-signed roots from the chain file even when the server sends them", async () => {
  const r = await rig();
  const yaml = serverCert(r.dir, { ttl: "1h" }).replace("omit-root: false", "omit-root: true");
  // The fake honours removeRootsFromChain; make it ignore the flag to prove the agent filters too.
  const issue = r.kms.client.issueCertificate;
  r.kms.client.issueCertificate = (req, o) => issue({ ...req, removeRootsFromChain: false }, o);
  const h = r.start(yaml);
  await r.clock.runUntil(() => h.ready());
  await h.stop();
  assert.equal(readFileSync(join(r.dir, "chain.crt"), "utf8"), "");
});

test("csr-path: issued once for the CSR's key, no key file, never renewed", async () => {
  const r = await rig();
  const gen = await generateKeyAndCsr("EC_prime256v1", undefined, { commonName: "csr.example.com" });
  writeFileSync(join(r.dir, "req.csr"), gen.csrPem);
  const yaml = `  - profile-name: web
    project-slug: demo
    csr-path: ${r.dir}/req.csr
    attributes:
      ttl: 1h
    lifecycle:
      renew-before-expiry: 20m
      status-check-interval: 5m
    file-output:
      certificate: { path: ${r.dir}/csr.crt }
`;
  const h = r.start(yaml);
  await r.clock.runUntil(() => h.ready());
  await r.clock.advance(55 * 60_000);
  await h.stop();
  assert.equal(r.kms.count("issue"), 1);
  assert.equal(r.kms.count("renew"), 0);
  const cert = new X509Certificate(readFileSync(join(r.dir, "csr.crt")));
  assert.ok(cert.checkPrivateKey(createPrivateKey(gen.privateKeyPem)));
  const sent = [...r.kms.certs.values()][0]!.request;
  assert.equal(sent.csr, gen.csrPem);
  assert.equal(sent.attributes?.commonName, undefined);
});

test("key-source local: the key is made here, only a CSR is sent, renewals make a new key", async () => {
  const r = await rig();
  const yaml = serverCert(r.dir, { ttl: "1h", before: "20m" }).replace("  - profile-name: web\n", "  - profile-name: web\n    key-source: local\n");
  const h = r.start(yaml.replace("alt-names: [api.example.com]", "alt-names: [api.example.com]\n      key-algorithm: EC_prime256v1"));
  await r.clock.runUntil(() => h.ready());
  const key1 = readFileSync(join(r.dir, "web.key"), "utf8");
  const old = serialOnDisk(r.dir);
  await r.clock.runUntil(() => serialOnDisk(r.dir) !== old);
  await h.stop();
  assert.ok(keyMatches(r.dir));
  assert.notEqual(readFileSync(join(r.dir, "web.key"), "utf8"), key1);
  for (const c of r.kms.certs.values()) {
    assert.ok(c.request.csr, "a CSR was sent");
    assert.equal(c.key, null, "the server never held the key");
  }
  assert.equal(r.kms.count("renew"), 0);
});

test("an interrupted write is rolled forward at start and its hook runs", async () => {
  const r = await rig();
  const a = r.start(serverCert(r.dir, { ttl: "1h", before: "20m" }));
  await r.clock.runUntil(() => a.ready());
  await a.stop();
  // The disk as a crash leaves it after the journal was written and the key renamed, but before the
  // chain and certificate renames: new key in place, old certificate, two pending temps.
  const other = await createFakeKms({ now: r.clock.now });
  const issued = (await other.client.issueCertificate({ profileId: "p", attributes: { commonName: "api.example.com", ttl: "1h" } }, {})).certificate!;
  const state = JSON.parse(readFileSync(join(r.dir, "web.crt.kms-state.json"), "utf8"));
  const next = { ...state.current, serialNumber: issued.serialNumber, certificateId: issued.certificateId, chainCertificates: 0 };
  writeFileSync(join(r.dir, "web.key"), issued.privateKey!);
  writeFileSync(join(r.dir, ".chain.crt.kms-pending"), "");
  writeFileSync(join(r.dir, ".web.crt.kms-pending"), issued.certificate);
  const pendingFiles = ["web.key", "chain.crt", "web.crt"].map((f) => ({ temp: join(r.dir, `.${f}.kms-pending`), path: join(r.dir, f) }));
  writeFileSync(join(r.dir, "web.crt.kms-state.json"), JSON.stringify({ version: 1, pending: { event: "renewal", files: pendingFiles, next } }));
  assert.equal(keyMatches(r.dir), false, "mismatched mid-crash");

  const b = r.start(serverCert(r.dir, { ttl: "1h", before: "20m" }));
  await r.clock.runUntil(() => b.ready() && r.hooks.some((x) => x.name === "on-renewal"));
  await b.stop();
  assert.ok(keyMatches(r.dir), "the set matches after recovery");
  assert.equal(serialOnDisk(r.dir), issued.serialNumber.toLowerCase());
  assert.equal(existsSync(join(r.dir, ".web.crt.kms-pending")), false);
  assert.equal(r.kms.count("issue"), 1, "recovery issued nothing");
});

test("debris from a write that never reached the journal is removed and the old set kept", async () => {
  const r = await rig();
  const a = r.start(serverCert(r.dir, { ttl: "1h" }));
  await r.clock.runUntil(() => a.ready());
  await a.stop();
  const before = readFileSync(join(r.dir, "web.crt"), "utf8");
  writeFileSync(join(r.dir, ".web.key.kms-pending"), "half a key");
  const b = r.start(serverCert(r.dir, { ttl: "1h" }));
  await r.clock.runUntil(() => b.ready());
  await b.stop();
  assert.equal(existsSync(join(r.dir, ".web.key.kms-pending")), false);
  assert.equal(readFileSync(join(r.dir, "web.crt"), "utf8"), before);
  assert.equal(r.kms.count("issue"), 1);
});

test("one failing certificate never stops the others", async () => {
  const r = await rig();
  const bad = `  - profile-name: web
    project-slug: demo
    csr: |
      -----BEGIN CERTIFICATE REQUEST-----
      bm90IGEgY3Ny
      -----END CERTIFICATE REQUEST-----
    file-output:
      certificate: { path: ${r.dir}/bad.crt }
`;
  const h = r.start(bad + serverCert(r.dir, { ttl: "1h" }));
  await r.clock.runUntil(() => h.loops()[1]!.ready());
  await h.stop();
  assert.equal(h.loops()[0]!.ready(), false);
  assert.ok(existsSync(join(r.dir, "web.crt")));
});

test("certificate-id fetches an existing certificate and never issues", async () => {
  const r = await rig();
  const issued = await r.kms.client.issueCertificate({ profileId: "p", attributes: { commonName: "existing.example.com", ttl: "1h" } }, {});
  r.kms.calls.length = 0;
  const h = r.start(`  - certificate-id: ${issued.certificate!.certificateId}
    file-output:
      private-key: { path: ${r.dir}/web.key }
      certificate: { path: ${r.dir}/web.crt }
`);
  await r.clock.runUntil(() => h.ready());
  await h.stop();
  assert.equal(r.kms.count("issue"), 0);
  assert.equal(r.kms.count("bundle"), 1);
  assert.ok(keyMatches(r.dir));
});

test("state under --state-dir instead of beside the certificate", async () => {
  const r = await rig();
  const stateDir = join(r.dir, "state");
  const h = r.start(serverCert(r.dir, { ttl: "1h" }), { stateDir });
  await r.clock.runUntil(() => h.ready());
  await h.stop();
  assert.equal(existsSync(join(r.dir, "web.crt.kms-state.json")), false);
  const { readdirSync } = await import("node:fs");
  const files = readdirSync(stateDir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^web\.crt-[0-9a-f]{16}\.json$/);
  assert.equal(modeOf(join(stateDir, files[0]!)), 0o600);
});

test("a reused set gets the configured modes: a tightened permission and a key someone opened up are fixed at start", async () => {
  const r = await rig();
  const a = r.start(serverCert(r.dir, { ttl: "1h" }));
  await r.clock.runUntil(() => a.ready());
  await a.stop();
  assert.equal(modeOf(join(r.dir, "chain.crt")), 0o640);
  chmodSync(join(r.dir, "web.key"), 0o644);
  const b = r.start(serverCert(r.dir, { ttl: "1h" }).replace('permission: "0640"', 'permission: "0600"'));
  await r.clock.runUntil(() => b.ready());
  await b.stop();
  assert.equal(r.kms.count("issue"), 1, "reused, not re-issued");
  assert.equal(modeOf(join(r.dir, "web.key")), 0o600);
  assert.equal(modeOf(join(r.dir, "chain.crt")), 0o600);
  assert.equal(modeOf(join(r.dir, "web.crt")), 0o644);
});

test("--verbose: debug lines for status checks, scheduling with its reason, and file writes; no key in them", async () => {
  const r = await rig();
  const out: string[] = [];
  const logger = createLogger({ level: "debug", format: "json", clock: r.clock, stream: { write: (l: string) => (out.push(l), true) } });
  const h = r.start(serverCert(r.dir, { ttl: "1h", before: "20m", check: "10m" }), { logger });
  await r.clock.runUntil(() => h.ready() && r.kms.count("status") >= 2);
  await h.stop();
  const debug = out.map((l) => JSON.parse(l)).filter((l) => l.level === "debug");
  const msgs = debug.map((l) => l.msg);
  assert.ok(msgs.includes("status checked"), msgs.join("\n"));
  assert.ok(msgs.includes("certificate set written"));
  const scheduled = debug.filter((l) => l.msg === "next check scheduled");
  assert.ok(scheduled.some((l) => l.reason === "status-check-interval" && l.inMs === 600_000), JSON.stringify(scheduled));
  assert.ok(debug.find((l) => l.msg === "certificate set written")!.files.some((f: string) => f.endsWith("web.key (0600)")));
  assert.doesNotMatch(out.join(""), /BEGIN [A-Z ]*PRIVATE KEY|tok-/);
});
