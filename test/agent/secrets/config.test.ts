import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadSecretsAgentConfig } from "../../../src/config/secrets-agent.js";
import { DEFAULT_SA_TOKEN_PATH } from "../../../src/agent/auth/kubernetes.js";

const dir = mkdtempSync(join(tmpdir(), "kms-secrets-config-"));
writeFileSync(join(dir, "client-id"), "id");
writeFileSync(join(dir, "client-secret"), "secret");
writeFileSync(join(dir, "sa-token"), "eyJhbGciOi...");
writeFileSync(join(dir, "my-dot-ev-secret-template"), '{{- with secret "6553ccb2b7da580d7f6e7260" "dev" "/" }}\n{{- range . }}\n{{ .Key }}={{ .Value }}\n{{- end }}\n{{- end }}\n');
const auth = `auth:
  type: "universal-auth"
  config:
    client-id: "${dir}/client-id"
    client-secret: "${dir}/client-secret"
    remove_client_secret_on_read: false
`;

test("seed 003's quick-start configuration loads, with the seed's defaults and ours", () => {
  const r = loadSecretsAgentConfig(`kms:
  address: "https://app.kms.hanzo.ai"
${auth}sinks:
  - type: "file"
    config:
      path: "${dir}/access-token"
templates:
  - source-path: ${dir}/my-dot-ev-secret-template
    destination-path: ${dir}/.env
    config:
      polling-interval: 60s
      execute:
        timeout: 30
        command: ./reload-app.sh
`);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const c = r.value;
  assert.equal(c.kms.address, "https://app.kms.hanzo.ai");
  assert.equal(c.kms["exit-after-auth"], false);
  assert.equal(c.kms["revoke-credentials-on-shutdown"], false);
  assert.equal(c.kms["change-stream"], true);
  assert.deepEqual(c.sinks, [{ type: "file", config: { path: `${dir}/access-token`, permission: 0o600 } }]);
  const t = c.templates[0]!;
  assert.equal(t.permission, 0o600);
  assert.equal(t.config["polling-interval"], 60_000);
  assert.deepEqual(t.config.execute, { timeout: 30_000, command: "./reload-app.sh" });
});

test("defaults: address, 5 min polling, no sinks, no templates; `infisical:` is the same section as `kms:`", () => {
  const r = loadSecretsAgentConfig(`infisical:
  exit-after-auth: true
  retry-strategy:
    max-retries: 3
    max-delay: "5s"
    base-delay: "200ms"
${auth}templates:
  - template-content: "x"
    destination-path: ${dir}/x
`);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.equal(r.value.kms.address, "https://app.kms.hanzo.ai");
  assert.equal(r.value.kms["exit-after-auth"], true);
  assert.deepEqual(r.value.kms["retry-strategy"], { "max-retries": 3, "max-delay": 5_000, "base-delay": 200 });
  assert.equal(r.value.templates[0]!.config["polling-interval"], 300_000);
  assert.deepEqual(r.value.sinks, []);
});

test("the seed's cache block loads (kubernetes, service-account token path) and so does ours (file, key file)", () => {
  const k = loadSecretsAgentConfig(`${auth}cache:
  persistent:
    type: "kubernetes"
    path: "${dir}/cache"
    service-account-token-path: "${dir}/sa-token"
`);
  assert.ok(k.ok, JSON.stringify(!k.ok && k.problems));
  assert.deepEqual(k.value.cache?.persistent, { type: "kubernetes", path: `${dir}/cache`, "service-account-token-path": `${dir}/sa-token` });
  const f = loadSecretsAgentConfig(`${auth}cache:\n  persistent:\n    type: file\n    path: ${dir}/cache\n    key-file: ${dir}/cache.key\n`);
  assert.ok(f.ok, JSON.stringify(!f.ok && f.problems));
});

/** Bad configurations and the exact problem each gives, with its line:column. */
const bad: { name: string; yaml: string; problems: RegExp[] }[] = [
  {
    name: "two template sources",
    yaml: `${auth}templates:\n  - template-content: "a"\n    source-path: ${dir}/my-dot-ev-secret-template\n    destination-path: ${dir}/o\n`,
    problems: [/^8:5 templates\[0\]\.template-content: use only one of source-path, template-content$/],
  },
  {
    name: "template syntax error, with Go's message",
    yaml: `${auth}templates:\n  - template-content: "{{ if }}"\n    destination-path: ${dir}/o\n`,
    problems: [/^8:23 templates\[0\]\.template-content: template: literalTemplate:1: missing value for if$/],
  },
  {
    name: "unknown function",
    yaml: `${auth}templates:\n  - template-content: "{{ secrets 1 }}"\n    destination-path: ${dir}/o\n`,
    problems: [/templates\[0\]\.template-content: template: literalTemplate:1: function "secrets" not defined/],
  },
  {
    name: "bad base64",
    yaml: `${auth}templates:\n  - base64-template-content: "%%%"\n    destination-path: ${dir}/o\n`,
    problems: [/templates\[0\]\.base64-template-content: is not valid base64/],
  },
  {
    name: "missing template file",
    yaml: `${auth}templates:\n  - source-path: ${dir}/nope.tpl\n    destination-path: ${dir}/o\n`,
    problems: [/templates\[0\]\.source-path: template file ".*nope\.tpl" does not exist/],
  },
  {
    name: "a sink and a template writing the same file",
    yaml: `${auth}sinks:\n  - type: file\n    config:\n      path: ${dir}/same\ntemplates:\n  - template-content: "x"\n    destination-path: ${dir}/same\n`,
    problems: [/^13:23 templates\[0\]\.destination-path: the same file is already written by sinks\[0\]$/],
  },
  {
    name: "a destination that is a directory",
    yaml: `${auth}templates:\n  - template-content: "x"\n    destination-path: ${dir}\n`,
    problems: [/^9:23 templates\[0\]\.destination-path: ".*" is a directory; name the file to write$/],
  },
  {
    name: "a sink path that is a directory",
    yaml: `${auth}sinks:\n  - type: file\n    config:\n      path: ${dir}\n`,
    problems: [/^10:13 sinks\[0\]\.config\.path: ".*" is a directory; name the file to write$/],
  },
  {
    name: "a template source that is a directory",
    yaml: `${auth}templates:\n  - source-path: ${dir}\n    destination-path: ${dir}/o\n`,
    problems: [/^8:18 templates\[0\]\.source-path: template file ".*" is a directory$/],
  },
  {
    name: "an output under a regular file",
    yaml: `${auth}templates:\n  - template-content: "x"\n    destination-path: ${dir}/client-id/out\n`,
    problems: [/templates\[0\]\.destination-path: .*client-id is not a directory/],
  },
  {
    name: "unknown sink type, missing path, bad permission",
    yaml: `${auth}sinks:\n  - type: socket\n  - type: file\n    config:\n      permission: "rw-r--r--"\n`,
    problems: [/sinks\[0\]\.type: unknown sink type "socket"; supported: "file"/, /sinks\[1\]\.config\.path: is required/, /sinks\[1\]\.config\.permission: invalid permission "rw-r--r--"/],
  },
  {
    name: "bad timeout and polling interval",
    yaml: `${auth}templates:\n  - template-content: x\n    destination-path: ${dir}/o\n    config:\n      polling-interval: 0s\n      execute:\n        timeout: -1\n`,
    problems: [/config\.polling-interval: duration "0s" must be greater than zero/, /config\.execute\.timeout: /],
  },
  {
    name: "kubernetes cache outside Kubernetes",
    yaml: `${auth}cache:\n  persistent:\n    type: kubernetes\n    path: ${dir}/cache\n`,
    problems: [/cache\.persistent\.type: service-account token "\/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token" does not exist: the kubernetes cache only works inside a pod/],
  },
  ...(existsSync(DEFAULT_SA_TOKEN_PATH)
    ? []
    : [{
      name: "kubernetes auth outside a pod: the default service-account token is checked at load too",
      yaml: `auth:\n  type: kubernetes\n  config:\n    identity-id: "id-1"\n`,
      problems: [/^2:9 auth\.type: service-account token "\/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token" \(the default\) does not exist: is the agent running in a pod/],
    }]),
  {
    name: "unknown cache type",
    yaml: `${auth}cache:\n  persistent:\n    type: redis\n    path: /x\n`,
    problems: [/cache\.persistent\.type: unknown cache type "redis"; supported: "kubernetes", "file"/],
  },
  {
    name: "certificate agent keys",
    yaml: `version: v1\n${auth}certificates: []\n`,
    problems: [/^1:1 version: "version" belongs to the certificate agent: run "kms cert-manager agent --config FILE"$/, /certificates: "certificates" belongs to the certificate agent/],
  },
  {
    name: "kms and infisical both",
    yaml: `kms: {}\ninfisical: {}\n${auth}`,
    problems: [/infisical: "infisical" and "kms" are the same section; keep one/],
  },
  {
    name: "auth missing",
    yaml: `templates: []\n`,
    problems: [/auth: is required/],
  },
];
for (const c of bad) {
  test(`problem: ${c.name}`, () => {
    const r = loadSecretsAgentConfig(c.yaml);
    assert.equal(r.ok, false);
    const got = (r as { problems: { line?: number; column?: number; path: string; message: string }[] }).problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
    for (const re of c.problems) assert.ok(got.some((g) => re.test(g)), `${re} not in\n${got.join("\n")}`);
  });
}

test("risky permissions are warned about, not refused: special bits, world-writable, a world-readable token", () => {
  const r = loadSecretsAgentConfig(`${auth}sinks:
  - type: file
    config: { path: ${dir}/token-ok }
  - type: file
    config: { path: ${dir}/token-644, permission: "0644" }
templates:
  - template-content: x
    destination-path: ${dir}/t-4777
    permission: "4777"
  - template-content: x
    destination-path: ${dir}/t-644
    permission: "0644"
`);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  // Each warning is located where the value was written (line:column), like a problem.
  const sinkColumn = `    config: { path: ${dir}/token-644, permission: `.length + 1;
  assert.deepEqual(r.warnings?.map((w) => `${w.line}:${w.column} ${w.path}: ${w.message}`), [
    `11:${sinkColumn} sinks[1].config.permission: permission 0644 lets every user on the machine read the access token`,
    "15:17 templates[0].permission: permission 04777 sets setuid, setgid or sticky bits on a file that holds secrets",
    "15:17 templates[0].permission: permission 04777 lets every user on the machine rewrite the file",
  ]);
});
