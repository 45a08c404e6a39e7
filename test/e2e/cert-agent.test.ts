import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { recoverSet } from "../../src/agent/cert/writer.js";
import { statePathFor } from "../../src/agent/cert/state.js";
import { setupPki } from "../helpers/pki.js";
import type { PkiFixture } from "../helpers/pki.js";
import { api, startServer } from "../helpers/server.js";
import { openssl, opensslOk } from "../helpers/openssl.js";
import { agentScope, inventory, inventoryCount, keyMatches, recordingProxy, serialOf, until } from "./cert-agent-harness.js";
import { REPO } from "../helpers/server.js";

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `kms-cert-agent-${p}-`));
const modeOf = (p: string) => statSync(p).mode & 0o777;
const seedFull = readFileSync(join(REPO, "test/agent/cert/fixtures/seed-full.yaml"), "utf8");

const header = (address: string, pki: PkiFixture, retry = "") => `version: v1
kms:
  address: "${address}"${retry}
auth:
  type: "universal-auth"
  config:
    client-id: "${pki.clientId}"
    client-secret: "${pki.clientSecret}"
certificates:
`;

/** An EC certificate entry with a short lifetime, for renewal tests. */
const shortCert = (pki: PkiFixture, dir: string, o: { ttl?: string; before?: string; check?: string; keySource?: string; hooks?: boolean } = {}) => `  - profile-name: "${pki.profileSlug}"
    project-slug: "${pki.projectSlug}"
${o.keySource ? `    key-source: ${o.keySource}\n` : ""}    attributes:
      common-name: "svc.example.com"
      alt-names: ["svc.example.com"]
      ttl: "${o.ttl ?? "30s"}"
      key-algorithm: "EC_prime256v1"
      key-usages: ["digital_signature"]
      extended-key-usages: ["server_auth"]
    lifecycle:
      renew-before-expiry: "${o.before ?? "20s"}"
      status-check-interval: "${o.check ?? "1s"}"
    file-output:
      private-key: { path: "${dir}/svc.key" }
      certificate: { path: "${dir}/svc.crt", permission: "0644" }
      chain: { path: "${dir}/chain.crt", permission: "0644" }
${
  o.hooks === false
    ? ""
    : `    post-hooks:
      on-issuance: { command: 'echo "$CERT_SERIAL_NUMBER" >> ${dir}/issued.log' }
      on-renewal: { command: 'echo "$CERT_SERIAL_NUMBER" >> ${dir}/renewed.log' }
      on-failure: { command: 'printf "%s\\n" "$ERROR_MESSAGE" >> ${dir}/failed.log' }
`
}`;

const writeConfig = (dir: string, yaml: string) => {
  const p = join(dir, "agent.yaml");
  writeFileSync(p, yaml);
  return p;
};
/** Alive and not a zombie (in a container, PID 1 may never reap a killed orphan). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};
const lines = (p: string) => (existsSync(p) ? readFileSync(p, "utf8").split("\n").filter(Boolean) : []);

describe("certificate agent, end to end against a real server", { concurrency: 3 }, () => {
  test("a config with 5 mistakes exits 2 before any network call, naming all 5 with their lines", async () => {
    const dir = tmp("bad");
    const cfg = writeConfig(
      dir,
      `version: v1
kms:
  address: "http://127.0.0.1:9"
auth:
  type: "universal-auth"
  config:
    client-id: "./missing-dir/client-id"
    client-secret: "s"
certificates:
  - profile-name: "web"
    project-slug: "demo"
    csr-path: "${dir}/req.csr"
    attributes:
      ttl: "30d"
    lifecycle:
      renew-before-expiry: "30d"
      status-check-interval: "10 mins"
    file-output:
      private-key:
        path: "${dir}/web.key"
      certificate:
        permision: "0644"
`,
    );
    writeFileSync(join(dir, "req.csr"), "x");
    const agent = agentScope().spawn(["--config", cfg]);
    const { code } = await agent.exited;
    const out = agent.output();
    assert.equal(code, 2, out);
    for (const [line, path] of [
      [7, "auth.config.client-id"],
      [16, "certificates[0].lifecycle.renew-before-expiry"],
      [17, "certificates[0].lifecycle.status-check-interval"],
      [20, "certificates[0].file-output.private-key.path"],
      [21, "certificates[0].file-output.certificate.path"],
      [22, "certificates[0].file-output.certificate.permision"],
    ] as const) {
      assert.match(out, new RegExp(`agent\\.yaml:${line}:\\d+: ${path.replace(/[.[\]]/g, "\\$&")}: `), `${path} on line ${line}\n${out}`);
    }
    assert.match(out, /^6 problems in /m);
    assert.doesNotMatch(out, /authenticated/);
  });

  test("the seed's full example: modes, openssl verify, key match, SANs/KU/EKU, omit-root true and false, every hook variable", async () => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server, { keyAlgorithm: "RSA_2048" });
      const dir = tmp("seed");
      // Credentials as files, the way seed 001 shows first.
      writeFileSync(join(dir, "client-id"), `${pki.clientId}\n`);
      writeFileSync(join(dir, "client-secret"), `${pki.clientSecret}\n`);
      let yaml = seedFull
        .replace('address: "https://app.kms.hanzo.ai"', `address: "${server.address}"`)
        .replace('client-id: "your-client-id"', `client-id: "${dir}/client-id"`)
        .replace('client-secret: "your-client-secret"', `client-secret: "${dir}/client-secret"`)
        .replace('profile-name: "prof-web-server-12345"', `profile-name: "${pki.profileSlug}"`)
        .replace('project-slug: "my-project-slug"', `project-slug: "${pki.projectSlug}"`)
        .replaceAll("/etc/ssl/private/", `${dir}/private/`)
        .replaceAll("/etc/ssl/certs/", `${dir}/certs/`);
      // The hooks record their environment instead of reloading nginx.
      yaml = yaml.replace(/post-hooks:[\s\S]*$/, `post-hooks:
      on-issuance:
        command: |
          env | grep -E '^(CERT_|EVENT=|ERROR_MESSAGE=)' | sort > ${dir}/issuance.env
        timeout: 30
`);
      // A second entry, identical but for omit-root: false and its paths.
      const second = yaml
        .slice(yaml.indexOf("  - profile-name"))
        .replaceAll(`${dir}/certs/web`, `${dir}/full/web`)
        .replaceAll(`${dir}/private/web`, `${dir}/full/web`)
        .replace("omit-root: true", "omit-root: false")
        // This entry's hook outlives its timeout and leaves a grandchild that ignores SIGTERM.
        .replace(/post-hooks:[\s\S]*$/, `post-hooks:
      on-issuance:
        command: |
          echo "slow hook for $CERT_COMMON_NAME"
          sh -c 'trap "" TERM; echo $$ > ${dir}/grandchild.pid; sleep 120' &
          sleep 120
        timeout: 1
`);
      const agent = agents.spawn(["--config", writeConfig(dir, `${yaml}\n${second}`)]);
      await until(() => existsSync(join(dir, "issuance.env")) && existsSync(join(dir, "full/web.crt")), 30_000, "both certificates issued");
      // The slow hook was killed with its whole process group, grandchild included, and its output
      // reached the agent's log.
      await agent.waitFor(/hook on-issuance: timed out after 1000 ms/, 15_000);
      await until(() => existsSync(join(dir, "grandchild.pid")), 5_000, "grandchild pid");
      const grandchild = Number(readFileSync(join(dir, "grandchild.pid"), "utf8"));
      await until(() => !alive(grandchild), 10_000, `grandchild ${grandchild} killed`);
      assert.match(agent.output(), /hook on-issuance: slow hook for api.example.com/);
      assert.equal((await agent.stop()).code, 0);

      const key = join(dir, "private/web.key");
      const crt = join(dir, "certs/web.crt");
      const chain = join(dir, "certs/web-chain.crt");
      assert.equal(modeOf(key), 0o600);
      assert.equal(modeOf(crt), 0o644);
      assert.equal(modeOf(chain), 0o644);
      assert.equal(modeOf(join(dir, "private")), 0o755);
      const root = join(dir, "root.pem");
      writeFileSync(root, pki.rootCaPem);
      assert.match(opensslOk("verify", "-CAfile", root, "-untrusted", chain, crt), /OK/);
      assert.equal(opensslOk("x509", "-in", crt, "-noout", "-pubkey"), opensslOk("pkey", "-in", key, "-pubout"));
      const x = new X509Certificate(readFileSync(crt));
      assert.equal(x.subjectAltName, "DNS:api.example.com, DNS:api-v2.example.com");
      assert.match(x.subject, /CN=api.example.com/);
      assert.deepEqual(x.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
      const ku = opensslOk("x509", "-in", crt, "-noout", "-ext", "keyUsage");
      assert.match(ku, /Digital Signature, Key Encipherment/);
      assert.equal(openssl("x509", "-in", crt, "-noout", "-checkend", String(89 * 86_400)).status, 0, "lives ~90 days");
      // omit-root: true → the chain holds the intermediate only; false → intermediate then root.
      const chainCerts = readFileSync(chain, "utf8").match(/-----BEGIN CERTIFICATE-----/g) ?? [];
      assert.equal(chainCerts.length, 1);
      assert.ok(!readFileSync(chain, "utf8").includes(pki.rootCaPem.trim().split("\n")[1]!));
      const fullChain = readFileSync(join(dir, "full/web-chain.crt"), "utf8");
      assert.equal((fullChain.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length, 2);
      assert.ok(fullChain.includes(pki.rootCaPem.trim().split("\n")[1]!));
      assert.match(opensslOk("verify", "-CAfile", root, "-untrusted", join(dir, "full/web-chain.crt"), join(dir, "full/web.crt")), /OK/);
      assert.ok(keyMatches(join(dir, "full/web.crt"), join(dir, "full/web.key")));

      const env = Object.fromEntries(lines(join(dir, "issuance.env")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
      assert.deepEqual(Object.keys(env).sort(), [
        "CERT_CHAIN_FILE_PATH", "CERT_COMMON_NAME", "CERT_FILE_PATH", "CERT_KEY_FILE_PATH", "CERT_NOT_AFTER", "CERT_PROFILE_NAME", "CERT_PROJECT_SLUG", "CERT_SERIAL_NUMBER", "EVENT",
      ]);
      assert.equal(env.CERT_COMMON_NAME, "api.example.com");
      assert.equal(env.CERT_FILE_PATH, crt);
      assert.equal(env.CERT_KEY_FILE_PATH, key);
      assert.equal(env.CERT_CHAIN_FILE_PATH, chain);
      assert.equal(env.CERT_SERIAL_NUMBER!.toLowerCase(), serialOf(crt));
      assert.match(env.CERT_NOT_AFTER!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(Date.parse(env.CERT_NOT_AFTER!), Date.parse(x.validTo));
      assert.equal(env.CERT_PROFILE_NAME, pki.profileSlug);
      assert.equal(env.CERT_PROJECT_SLUG, pki.projectSlug);
      assert.equal(env.EVENT, "issuance");
      assert.ok(!agent.output().includes(pki.clientSecret), "the client secret never reaches the log");
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });

  test("short TTL (30s, renew 20s before, checks every 1s): a new serial, and on-renewal ran", async () => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("renew");
      const cfg = writeConfig(dir, header(server.address, pki) + shortCert(pki, dir));
      const agent = agents.spawn(["--config", cfg]);
      await until(() => lines(join(dir, "issued.log")).length === 1, 30_000, "issuance");
      const first = serialOf(join(dir, "svc.crt"));
      await until(() => lines(join(dir, "renewed.log")).length >= 1, 25_000, "renewal");
      const renewed = serialOf(join(dir, "svc.crt"));
      assert.notEqual(renewed, first);
      assert.equal(lines(join(dir, "renewed.log"))[0]!.toLowerCase(), renewed);
      assert.ok(keyMatches(join(dir, "svc.crt"), join(dir, "svc.key")));
      assert.match(agent.output(), /renewing certificate .*reason="renew-before-expiry reached"/);
      assert.equal((await agent.stop()).code, 0);
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });

  test("restart: same serial, no issuance request reaches the server (its inventory does not grow)", async () => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("restart");
      const cfg = writeConfig(dir, header(server.address, pki) + shortCert(pki, dir, { ttl: "1h", before: "10m" }));
      const agent = agents.spawn(["--config", cfg]);
      await until(() => lines(join(dir, "issued.log")).length === 1, 30_000, "issuance");
      assert.equal((await agent.stop()).code, 0);
      const serial = serialOf(join(dir, "svc.crt"));
      const count = await inventoryCount(server, pki.projectId);
      assert.equal(count, 1);
      for (const signal of ["SIGINT"] as const) {
        const again = agents.spawn(["--config", cfg]);
        await again.waitFor(/reusing certificate on disk/);
        await new Promise((r) => setTimeout(r, 1_500)); // a status check or two
        assert.equal((await again.stop(signal)).code, 0);
        assert.doesNotMatch(again.output(), /requesting certificate|renewing certificate/);
      }
      assert.equal(serialOf(join(dir, "svc.crt")), serial);
      assert.equal(await inventoryCount(server, pki.projectId), count);
      assert.equal(lines(join(dir, "issued.log")).length, 1);
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });

  test("a second agent on the same configuration leaves the certificate to the first, naming it; after kill -9 of the first it takes over", async () => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("two-agents");
      const cfg = writeConfig(dir, header(server.address, pki) + shortCert(pki, dir, { ttl: "1h", before: "10m" }));
      const first = agents.spawn(["--config", cfg]);
      await until(() => lines(join(dir, "issued.log")).length === 1, 30_000, "issuance");
      const second = agents.spawn(["--config", cfg]);
      await second.waitFor(new RegExp(`held by another kms agent \\(pid ${first.proc.pid}\\)`));
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(await inventoryCount(server, pki.projectId), 1, "the second agent issued nothing");
      assert.equal(lines(join(dir, "issued.log")).length, 1);
      await second.stop();
      await first.stop("SIGKILL");
      const third = agents.spawn(["--config", cfg]);
      await third.waitFor(/reusing certificate on disk/);
      assert.equal((await third.stop()).code, 0);
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });

  test("24 certificates from one agent: each issued once with a matching key, and no listener-leak warning", async () => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("many");
      const entries = Array.from({ length: 24 }, (_, i) => shortCert(pki, dir, { ttl: "1h", before: "10m", hooks: false })
        .replaceAll("svc.example.com", `svc${i}.example.com`).replaceAll(`${dir}/svc.`, `${dir}/svc${i}.`).replaceAll(`${dir}/chain.crt`, `${dir}/chain${i}.crt`));
      const agent = agents.spawn(["--config", writeConfig(dir, header(server.address, pki) + entries.join(""))]);
      await until(() => (agent.output().match(/certificate issued/g) ?? []).length === 24, 30_000, "24 issuances");
      for (let i = 0; i < 24; i++) assert.ok(keyMatches(join(dir, `svc${i}.crt`), join(dir, `svc${i}.key`)), `svc${i}: key matches certificate`);
      assert.equal(await inventoryCount(server, pki.projectId), 24);
      assert.equal((await agent.stop()).code, 0);
      // Every loop waits on the generation's abort signal: two dozen listeners are by design, not a leak.
      assert.doesNotMatch(agent.output(), /MaxListenersExceededWarning|memory leak/);
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });

  test("server stopped: on-failure with ERROR_MESSAGE and byte-identical files; server back: renewal succeeds", async () => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("outage");
      const cfg = writeConfig(dir, header(server.address, pki, '\n  retry-strategy:\n    max-retries: 1\n    base-delay: "100ms"\n    max-delay: "200ms"') + shortCert(pki, dir));
      const agent = agents.spawn(["--config", cfg]);
      await until(() => lines(join(dir, "issued.log")).length === 1, 30_000, "issuance");
      const files = ["svc.key", "svc.crt", "chain.crt"].map((f) => readFileSync(join(dir, f)));
      await server.stop();
      await until(() => lines(join(dir, "failed.log")).length >= 1, 25_000, "on-failure");
      assert.match(lines(join(dir, "failed.log"))[0]!, /cannot reach the KMS/);
      ["svc.key", "svc.crt", "chain.crt"].forEach((f, i) => assert.deepEqual(readFileSync(join(dir, f)), files[i], `${f} unchanged`));
      assert.equal(lines(join(dir, "renewed.log")).length, 0);
      await server.restart();
      assert.ok(readFileSync(cfg, "utf8").includes(server.address), "the server came back on its address");
      await until(() => lines(join(dir, "renewed.log")).length >= 1, 25_000, "renewal after the outage");
      assert.ok(keyMatches(join(dir, "svc.crt"), join(dir, "svc.key")));
      assert.notDeepEqual(readFileSync(join(dir, "svc.crt")), files[1]);
      assert.equal((await agent.stop()).code, 0);
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });

  test("csr-path with an openssl-made CSR: the certificate carries that key and is never renewed", async () => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("csr");
      opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "own.key"), "-subj", "/CN=csr.example.com",
        "-addext", "subjectAltName=DNS:csr.example.com", "-out", join(dir, "req.csr"));
      const cfg = writeConfig(dir, `${header(server.address, pki)}  - profile-name: "${pki.profileSlug}"
    project-slug: "${pki.projectSlug}"
    csr-path: "${dir}/req.csr"
    attributes:
      ttl: "30s"
      extended-key-usages: ["server_auth"]
    lifecycle:
      renew-before-expiry: "20s"
      status-check-interval: "1s"
    file-output:
      certificate: { path: "${dir}/csr.crt", permission: "0644" }
      chain: { path: "${dir}/csr-chain.crt" }
`);
      const agent = agents.spawn(["--config", cfg]);
      await agent.waitFor(/certificate issued/);
      assert.equal(opensslOk("x509", "-in", join(dir, "csr.crt"), "-noout", "-pubkey"), opensslOk("pkey", "-in", join(dir, "own.key"), "-pubout"));
      assert.equal(existsSync(join(dir, "csr.key")), false);
      await agent.waitFor(/expires soon and is not renewed automatically/, 25_000);
      assert.equal(await inventoryCount(server, pki.projectId), 1);
      assert.equal((await agent.stop()).code, 0);
      assert.doesNotMatch(agent.output(), /renewing certificate/);
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });

  test("key-source local: no private key in any response, and renewals work", async () => {
    const server = await startServer();
    const proxy = await recordingProxy(() => server.address);
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("local");
      const cfg = writeConfig(dir, header(proxy.address, pki) + shortCert(pki, dir, { keySource: "local" }));
      const agent = agents.spawn(["--config", cfg]);
      await until(() => lines(join(dir, "renewed.log")).length >= 1, 40_000, "renewal with a local key");
      assert.equal((await agent.stop()).code, 0);
      assert.ok(keyMatches(join(dir, "svc.crt"), join(dir, "svc.key")));
      const issues = proxy.bodies.filter((b) => b.method === "POST" && b.url.startsWith("/api/v1/cert-manager/certificates"));
      assert.ok(issues.length >= 2, "issued and renewed through the proxy");
      for (const b of proxy.bodies) assert.doesNotMatch(b.body, /PRIVATE KEY/, `${b.method} ${b.url}`);
      // The server never held any of these keys.
      for (const c of await inventory(server, pki.projectId)) {
        const k = await api(server.address, "GET", `/api/v1/cert-manager/certificates/${c.id}/private-key`, { token: server.adminToken });
        assert.notEqual(k.status, 200);
      }
    } finally {
      await agents.killAll();
      await proxy.close();
      await server.cleanup();
    }
  });

  test("kill -9 at random moments across at least 50 renewals: the set on disk is always complete and matching", async (t) => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("kill9");
      // Renew on every check: 30 s lifetime, renew when 29 s or less are left, check every 50 ms.
      const cfg = writeConfig(dir, header(server.address, pki) + shortCert(pki, dir, { ttl: "30s", before: "29s", check: "50ms", hooks: false }));
      const targets = {
        key: { path: join(dir, "svc.key"), mode: 0o600 },
        chain: { path: join(dir, "chain.crt"), mode: 0o644 },
        certificate: { path: join(dir, "svc.crt"), mode: 0o644 },
      };
      const root = join(dir, "root.pem");
      writeFileSync(root, pki.rootCaPem);
      const deadline = Date.now() + 80_000;
      let kills = 0;
      let renewals = 0;
      while (Date.now() < deadline && (renewals < 50 || kills < 15)) {
        const agent = agents.spawn(["--config", cfg]);
        await agent.waitFor(/certificate (issued|renewed)|reusing certificate/, 30_000);
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 1_800));
        agent.proc.kill("SIGKILL");
        await agent.exited;
        kills++;
        renewals += (agent.output().match(/certificate renewed/g) ?? []).length;
        // Every file on its own is whole, never torn...
        for (const f of [targets.key.path, targets.certificate.path]) assert.ok((await readFile(f, "utf8")).includes("-----END"), `${f} torn after kill ${kills}`);
        new X509Certificate(readFileSync(targets.certificate.path));
        // ...and what the agent does first at start (before any network call) leaves a matching set.
        await recoverSet(targets, statePathFor(targets.certificate.path));
        assert.ok(keyMatches(targets.certificate.path, targets.key.path), `mismatched set after kill ${kills}`);
        assert.match(opensslOk("verify", "-CAfile", root, "-untrusted", targets.chain.path, targets.certificate.path), /OK/);
      }
      t.diagnostic(`${renewals} renewals across ${kills} kills`);
      assert.ok(renewals >= 50, `only ${renewals} renewals in ${kills} kills`);
      assert.ok(kills >= 15, `only ${kills} kills`);
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });

  test("operations: config from KMS_AGENT_CONFIG_BASE64, JSON logs, metrics and health, SIGHUP reload (bad config keeps the old one), SIGTERM exits 0", async () => {
    const server = await startServer();
    const agents = agentScope();
    try {
      const pki = await setupPki(server);
      const dir = tmp("ops");
      const one = header(server.address, pki) + shortCert(pki, dir, { ttl: "1h", before: "10m", check: "1s", hooks: false });
      const b64 = Buffer.from(one).toString("base64");
      const envAgent = agents.spawn(["--log-format", "json", "--metrics-addr", "127.0.0.1:0"], { KMS_AGENT_CONFIG_BASE64: b64 });
      const m = await envAgent.waitFor(/"msg":"metrics listening","address":"([^"]+)"/);
      await envAgent.waitFor(/"msg":"certificate issued"/);
      for (const line of envAgent.output().trim().split("\n")) JSON.parse(line);
      const base = `http://${m[1]}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      await until(async () => (await fetch(`${base}/readyz`)).status === 200, 5_000, "ready");
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /kms_agent_certificate_not_after_timestamp_seconds\{name="svc.example.com"\} \d{10}/);
      assert.match(metrics, /kms_agent_certificate_issuances_total\{name="svc.example.com"\} 1/);
      assert.match(metrics, /kms_agent_certificate_renewals_total\{name="svc.example.com"\} 0/, "counters show at 0 from the start");
      assert.match(metrics, /kms_agent_certificate_failures_total\{name="svc.example.com"\} 0/);
      assert.match(metrics, /kms_agent_authenticated 1/);
      assert.match(metrics, /kms_agent_certificate_failures_total/);
      assert.equal((await envAgent.stop()).code, 0);

      const cfg = writeConfig(dir, one);
      const agent = agents.spawn(["--config", cfg]);
      await agent.waitFor(/reusing certificate on disk/);
      writeFileSync(cfg, `${one}  - profile-name: "${pki.profileSlug}"
    project-slug: "${pki.projectSlug}"
    attributes: { common-name: "second.example.com", ttl: "1h", key-algorithm: "EC_prime256v1" }
    file-output:
      private-key: { path: "${dir}/second.key" }
      certificate: { path: "${dir}/second.crt" }
`);
      agent.proc.kill("SIGHUP");
      await until(() => existsSync(join(dir, "second.crt")), 20_000, "second certificate after SIGHUP");
      writeFileSync(cfg, one.replace("status-check-interval", "status-check-intervall"));
      agent.proc.kill("SIGHUP");
      await agent.waitFor(/configuration not reloaded.*status-check-intervall/);
      assert.equal(agent.proc.exitCode, null, "still running on the old configuration");
      assert.equal((await agent.stop()).code, 0);
      assert.ok(keyMatches(join(dir, "second.crt"), join(dir, "second.key")));
    } finally {
      await agents.killAll();
      await server.cleanup();
    }
  });
});
