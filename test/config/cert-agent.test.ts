import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadCertAgentConfig } from "../../src/config/cert-agent.js";
import type { ConfigProblem } from "../../src/config/yaml.js";

const fixtures = join(import.meta.dirname, "../agent/cert/fixtures");
const fixture = (name: string) => readFileSync(join(fixtures, name), "utf8");
const dir = mkdtempSync(join(tmpdir(), "kms-config-test-"));

const problemsOf = (yaml: string): ConfigProblem[] => {
  const r = loadCertAgentConfig(yaml);
  assert.ok(!r.ok, "expected problems");
  return r.ok ? [] : r.problems;
};
const okValue = (yaml: string) => {
  const r = loadCertAgentConfig(yaml);
  assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.problems, null, 1));
  return r.ok ? r.value : (undefined as never);
};

const minimal = (cert: string, extra = "") => `
kms:
  address: http://127.0.0.1:1
auth:
  type: universal-auth
  config:
    client-id: id
    client-secret: secret
${extra}
certificates:
${cert}`;

test("the seed's full example is valid, with the documented values", () => {
  const c = okValue(fixture("seed-full.yaml"));
  const e = c.certificates[0]!;
  assert.equal(c.kms.address, "https://app.kms.hanzo.ai");
  assert.deepEqual(c.kms["retry-strategy"], { "max-retries": 3, "max-delay": 5_000, "base-delay": 200 });
  assert.equal(e.attributes.ttl, 90 * 86_400_000);
  assert.equal(e.lifecycle["renew-before-expiry"], 30 * 86_400_000);
  assert.equal(e.lifecycle["status-check-interval"], 6 * 3_600_000);
  assert.equal(e["file-output"]["private-key"]!.permission, 0o600);
  assert.equal(e["file-output"].certificate.permission, 0o644);
  assert.equal(e["file-output"].chain!["omit-root"], true);
  assert.equal(e["post-hooks"]["on-failure"]!.timeout, 30_000);
  assert.equal(e["key-source"], "server");
});

test("the seed's one-time and auto-renewal examples are valid", () => {
  const once = okValue(fixture("seed-one-time.yaml")).certificates[0]!;
  assert.equal(once.lifecycle["renew-before-expiry"], undefined);
  const auto = okValue(fixture("seed-auto-renew.yaml")).certificates[0]!;
  assert.equal(auto.lifecycle["renew-before-expiry"], 14 * 86_400_000);
  assert.equal(auto["file-output"].chain!["omit-root"], true, "omit-root defaults to true");
});

test("the seed's CSR example is valid once its CSR file exists", () => {
  const csr = join(dir, "api.csr");
  writeFileSync(csr, "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n");
  const c = okValue(fixture("seed-csr.yaml").replace("/etc/ssl/requests/api.csr", csr));
  assert.equal(c.certificates[0]!["csr-path"], csr);
  const missing = problemsOf(fixture("seed-csr.yaml"));
  assert.deepEqual(missing.map((p) => [p.path, p.line]), [["certificates[0].csr-path", 22]]);
});

test("defaults from the seed's table", () => {
  const c = okValue(minimal(`  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c }\n      chain: { path: ch }\n`));
  const e = c.certificates[0]!;
  assert.equal(e.lifecycle["status-check-interval"], 10_000);
  assert.equal(e.lifecycle["renew-before-expiry"], undefined);
  assert.equal(e.lifecycle["max-failure-retries"], 10);
  assert.equal(e["file-output"]["private-key"]!.permission, 0o600);
  assert.equal(e["file-output"].certificate.permission, 0o600);
  assert.equal(e["file-output"].chain!.permission, 0o600);
  assert.equal(e["file-output"].chain!["omit-root"], true);
  assert.deepEqual(e["post-hooks"], {});
  assert.equal(c.kms["retry-strategy"], undefined);
});

test("permissions: quoted octal, bare 0644, bare 644 all mean 0o644", () => {
  for (const p of ['"0644"', "0644", "644", '"644"', "0o644"]) {
    const c = okValue(minimal(`  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c, permission: ${p} }\n`));
    assert.equal(c.certificates[0]!["file-output"].certificate.permission, 0o644, p);
  }
  const bad = problemsOf(minimal(`  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c, permission: "rw-r--r--" }\n`));
  assert.match(bad[0]!.message, /invalid permission/);
});

test("newer upstream keys and ours are known keys", () => {
  const c = okValue(
    minimal(`  - profile-name: p
    project-slug: s
    key-source: local
    lifecycle:
      renew-before-expiry: 1h
      failure-retry-interval: 30s
      max-failure-retries: 4
    file-output:
      private-key: { path: k }
      certificate: { path: c }
  - certificate-id: "0b5a7c1e-0000-4000-8000-000000000000"
    file-output:
      certificate: { path: c2 }
  - profile-name: p
    project-slug: s
    csr: |
      -----BEGIN CERTIFICATE REQUEST-----
      -----END CERTIFICATE REQUEST-----
    file-output:
      certificate: { path: c3 }
`),
  );
  assert.equal(c.certificates[0]!["key-source"], "local");
  assert.equal(c.certificates[0]!.lifecycle["failure-retry-interval"], 30_000);
  assert.equal(c.certificates[0]!.lifecycle["max-failure-retries"], 4);
  assert.equal(c.certificates[1]!["certificate-id"], "0b5a7c1e-0000-4000-8000-000000000000");
  assert.match(c.certificates[2]!.csr!, /BEGIN CERTIFICATE REQUEST/);
});

test("key usages: both spellings accepted and normalised; the seed's timestamping maps to time_stamping", () => {
  const c = okValue(
    minimal(`  - profile-name: p\n    project-slug: s\n    attributes:\n      key-usages: [digitalSignature, key_encipherment]\n      extended-key-usages: [serverAuth, timestamping]\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c }\n`),
  );
  assert.deepEqual(c.certificates[0]!.attributes["key-usages"], ["digital_signature", "key_encipherment"]);
  assert.deepEqual(c.certificates[0]!.attributes["extended-key-usages"], ["server_auth", "time_stamping"]);
});

test("remove-client-secret-on-read in both spellings", () => {
  for (const key of ["remove-client-secret-on-read", "remove_client_secret_on_read"]) {
    okValue(`auth:\n  type: universal-auth\n  config:\n    client-id: a\n    client-secret: b\n    ${key}: true\ncertificates:\n  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c }\n`);
  }
});

test("auth types still unsupported are named as such; unknown ones as unknown", () => {
  for (const t of ["ldap-auth"]) {
    const p = problemsOf(`auth:\n  type: ${t}\n  config:\n    identity-id: x\ncertificates: []\n`);
    const auth = p.find((x) => x.path === "auth.type");
    assert.ok(auth, t);
    assert.match(auth!.message, new RegExp(`auth type "${t}" is not supported yet`));
    assert.equal(auth!.line, 2);
  }
  const p = problemsOf(`auth:\n  type: magic\n  config: {}\ncertificates: []\n`);
  assert.match(p.find((x) => x.path === "auth.type")!.message, /unknown auth type "magic"/);
});

test("a config with 5 mistakes lists all 5 with their lines", () => {
  const yaml = `version: v1
kms:
  address: "http://127.0.0.1:8080"
  retry-strategy:
    max-retries: "three"
auth:
  type: "universal-auth"
  config:
    client-id: "./does-not-exist/client-id"
    client-secret: "literal-secret"
certificates:
  - profile-name: "web"
    project-slug: "demo"
    attributes:
      ttl: "30d"
    lifecycle:
      renew-before-expiry: "45d"
      status-check-interval: "10 minutes"
    file-output:
      private-key:
        path: "./web.key"
      certificate:
        permission: "0644"
      chain:
        path: "./chain.pem"
        omitroot: true
`;
  const p = problemsOf(yaml);
  assert.deepEqual(
    p.map((x) => [x.line, x.path]),
    [
      [5, "kms.retry-strategy.max-retries"],
      [9, "auth.config.client-id"],
      [17, "certificates[0].lifecycle.renew-before-expiry"],
      [18, "certificates[0].lifecycle.status-check-interval"],
      [22, "certificates[0].file-output.certificate.path"],
      [26, "certificates[0].file-output.chain.omitroot"],
    ],
  );
  assert.match(p[1]!.message, /credential file ".\/does-not-exist\/client-id" does not exist/);
  assert.match(p[2]!.message, /must be shorter than attributes.ttl/);
  assert.match(p[3]!.message, /unknown unit " minutes"/);
  assert.match(p[5]!.message, /unknown key "omitroot"/);
});

test("csr-path together with a private-key path is a problem; so is no key path without a CSR", () => {
  const csr = join(dir, "x.csr");
  writeFileSync(csr, "x");
  const both = problemsOf(minimal(`  - profile-name: p\n    project-slug: s\n    csr-path: ${csr}\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c }\n`));
  assert.deepEqual(both.map((p) => p.path), ["certificates[0].file-output.private-key.path"]);
  const none = problemsOf(minimal(`  - profile-name: p\n    project-slug: s\n    file-output:\n      certificate: { path: c }\n`));
  assert.deepEqual(none.map((p) => p.path), ["certificates[0].file-output.private-key"]);
});

test("certificate-id excludes profile, project, CSR and attributes; otherwise profile and project are required", () => {
  const p = problemsOf(minimal(`  - certificate-id: abc\n    profile-name: p\n    file-output:\n      certificate: { path: c }\n  - file-output:\n      private-key: { path: k }\n      certificate: { path: c2 }\n`));
  assert.deepEqual(p.map((x) => x.path), ["certificates[0].profile-name", "certificates[1].profile-name", "certificates[1].project-slug"]);
});

test("two certificates writing the same file is a problem", () => {
  const p = problemsOf(minimal(`  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k }\n      certificate: { path: same }\n  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k2 }\n      certificate: { path: same }\n`));
  assert.deepEqual(p.map((x) => x.path), ["certificates[1].file-output.certificate.path"]);
});

test("every output file is compared, across entries and within one, by absolute path, at the conflicting key's line", () => {
  const entry = (key: string, cert: string, chain?: string) =>
    `  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key:\n        path: ${key}\n      certificate:\n        path: ${cert}\n${chain ? `      chain:\n        path: ${chain}\n` : ""}`;
  const cwd = process.cwd();
  const cases: { name: string; certs: string; path: string; line: number; message: RegExp }[] = [
    { name: "key of one is the certificate of another", certs: entry("a.key", "a.crt") + entry("b.key", "a.key"), path: "certificates[1].file-output.certificate.path", line: 24, message: /same file as certificates\[0\]\.file-output\.private-key\.path/ },
    { name: "chain of one is the key of another", certs: entry("a.key", "a.crt") + entry("b.key", "b.crt", "a.key"), path: "certificates[1].file-output.chain.path", line: 26, message: /certificates\[0\]\.file-output\.private-key\.path/ },
    { name: "relative and absolute spellings of one file", certs: entry("a.key", "a.crt") + entry("b.key", `${cwd}/./x/../a.crt`), path: "certificates[1].file-output.certificate.path", line: 24, message: new RegExp(`\\(${cwd}/a\\.crt\\)`) },
    { name: "key path equals certificate path in one entry", certs: entry("same.pem", "same.pem"), path: "certificates[0].file-output.certificate.path", line: 17, message: /certificates\[0\]\.file-output\.private-key\.path/ },
    { name: "chain equals key in one entry", certs: entry("k.pem", "c.pem", "k.pem"), path: "certificates[0].file-output.chain.path", line: 19, message: /private-key\.path/ },
    { name: "a key written over another certificate's state file", certs: entry("a.key", "a.crt") + entry("a.crt.kms-state.json", "b.crt"), path: "certificates[1].file-output.private-key.path", line: 22, message: /the state file of certificates\[0\]/ },
  ];
  for (const c of cases) {
    const p = problemsOf(minimal(c.certs));
    assert.deepEqual(p.map((x) => [x.path, x.line]), [[c.path, c.line]], c.name);
    assert.match(p[0]!.message, c.message, c.name);
  }
});

test("a CSR file that an entry would overwrite is a problem", () => {
  const csr = join(dir, "shared.csr");
  writeFileSync(csr, "x");
  const p = problemsOf(minimal(`  - profile-name: p\n    project-slug: s\n    csr-path: ${csr}\n    file-output:\n      certificate: { path: c.pem }\n  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k }\n      certificate: { path: ${csr} }\n`));
  assert.deepEqual(p.map((x) => x.path), ["certificates[0].csr-path"]);
  assert.match(p[0]!.message, /overwritten/);
});

test("wrong types, bad enums and bad addresses are located", () => {
  const p = problemsOf(`kms:\n  address: ftp://x\nauth:\n  type: universal-auth\n  config:\n    client-id: 1\n    client-secret: s\ncertificates:\n  - profile-name: p\n    project-slug: s\n    attributes:\n      key-algorithm: RSA_1024\n      alt-names: a.example.com\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c }\n    post-hooks:\n      on-renewal:\n        command: x\n        timeout: soon\n`);
  assert.deepEqual(
    p.map((x) => [x.line, x.path]),
    [
      [2, "kms.address"],
      [6, "auth.config.client-id"],
      [12, "certificates[0].attributes.key-algorithm"],
      [13, "certificates[0].attributes.alt-names"],
      [20, "certificates[0].post-hooks.on-renewal.timeout"],
    ],
  );
});

test("credential files: an existing path is accepted", () => {
  const id = join(dir, "client-id");
  writeFileSync(id, "abc\n");
  okValue(`auth:\n  type: universal-auth\n  config:\n    client-id: ${id}\n    client-secret: s\ncertificates:\n  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c }\n`);
});

test("hook timeouts: a number is seconds, a duration string is taken as written", () => {
  const hooks = (timeout: string) => okValue(minimal(`  - profile-name: p
    project-slug: s
    file-output:
      certificate: { path: ${join(dir, "t.crt")} }
      private-key: { path: ${join(dir, "t.key")} }
    post-hooks:
      on-issuance: { command: "true", timeout: ${timeout} }`)).certificates[0]!["post-hooks"]!["on-issuance"]!.timeout;
  assert.equal(hooks("30"), 30_000);
  assert.equal(hooks('"45s"'), 45_000);
  assert.equal(hooks('"2m"'), 120_000);
});

test("YAML merge keys work and top-level x- keys hold anchors without being configuration", () => {
  const c = okValue(minimal(`  - <<: *web
    attributes: { common-name: a.example.com }
    file-output:
      private-key: { path: a.key }
      certificate: { path: a.crt }
  - <<: *web
    file-output:
      private-key: { path: b.key }
      certificate: { path: b.crt }
`, `x-common: &web
  profile-name: web
  project-slug: demo
  lifecycle: { renew-before-expiry: 10d, status-check-interval: 1h }
x-unused: { anything: [1, 2] }`));
  assert.equal(c.certificates.length, 2);
  for (const e of c.certificates) {
    assert.equal(e["profile-name"], "web");
    assert.equal(e.lifecycle["renew-before-expiry"], 10 * 86_400_000);
  }
  assert.equal(c.certificates[0]!.attributes["common-name"], "a.example.com");
  assert.deepEqual(problemsOf(minimal(`  - profile-name: p\n    project-slug: s\n    file-output:\n      private-key: { path: k }\n      certificate: { path: c }\n`, "y-other: 1")).map((p) => p.message), ['unknown key "y-other"']);
});
