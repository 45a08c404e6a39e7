import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { api, startServer } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";
import { authYaml, makeFixture, makeFolder, setSecret, spawnAgent, until, writeConfig } from "./secrets-agent-harness.js";
import type { AgentProcess, Fixture } from "./secrets-agent-harness.js";

/**
 * `kms agent` end to end: a real server process, a real agent process, seed 003's templates. One agent
 * carries several templates so the suite stays fast; each test looks at its own files.
 */

const modeOf = (p: string) => statSync(p).mode & 0o7777;
const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
const lines = (p: string) => (read(p) ?? "").split("\n").filter(Boolean).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("kms agent (seed 003) against a real server", () => {
  let s: TestServer;
  let f: Fixture;
  let agent: AgentProcess;
  let out: Record<"flat" | "recursive" | "byName" | "env" | "broken" | "token" | "token640", string>;
  let tokenAtStart = "";

  before(async () => {
    s = await startServer();
    f = await makeFixture(s, "agent-e2e");
    await makeFolder(s, f.projectId, "app");
    await makeFolder(s, f.projectId, "db", "/app");
    await setSecret(s, f.projectId, "DB_HOST", "db.internal");
    await setSecret(s, f.projectId, "DB_PASS", "pw-1");
    await setSecret(s, f.projectId, "POSTHOG_HOST", "https://ph.example");
    await setSecret(s, f.projectId, "API_KEY", "k-1", { path: "/app" });
    await setSecret(s, f.projectId, "DEEP", "d-1", { path: "/app/db" });
    const d = (n: string) => join(f.dir, n);
    out = { flat: d("flat.env"), recursive: d("recursive.env"), byName: d("posthog.toml"), env: d(".env"), broken: d("broken.out"), token: d("token"), token640: d("token-640") };
    // The quick-start template, from a file, as the seed writes it.
    writeFileSync(d("my-dot-ev-secret-template"), `{{- with secret "${f.projectId}" "dev" "/" }}\n{{- range . }}\n{{ .Key }}={{ .Value }}\n{{- end }}\n{{- end }}\n`);
    writeFileSync(d("broken.tpl"), `{{ with getSecretByName "${f.projectId}" "dev" "/" "DB_HOST" }}{{ .Value }}{{ end }}\n`);
    // An existing 0644 token file: the configured 0640 must win over it.
    writeFileSync(out.token640, "old");
    chmodSync(out.token640, 0o644);
    const cfg = writeConfig(f, `infisical:
  address: ${s.address}
  revoke-credentials-on-shutdown: true
${authYaml(f)}sinks:
  - type: file
    config:
      path: ${out.token}
  - type: file
    config:
      path: ${out.token640}
      permission: "0640"
templates:
  - template-content: |
      {{- with secret "${f.projectId}" "dev" "/" \`{"recursive": false, "expandSecretReferences": true}\` }}
      {{- range . }}
      {{ .Key }}={{ .Value }}
      {{- end }}
      {{- end }}
    destination-path: ${out.flat}
  - template-content: |
      {{- with secret "${f.projectId}" "dev" "/" \`{"recursive": true, "expandSecretReferences": true}\` }}
      {{- range . }}
      {{- if eq .SecretPath "/"}}
      {{ .Key }}={{ .Value }}
      {{- else}}
      {{ .SecretPath }}/{{ .Key }}={{ .Value }}
      {{- end}}
      {{- end }}
      {{- end }}
    destination-path: ${out.recursive}
  - base64-template-content: ${Buffer.from(`{{ with getSecretByName "${f.projectId}" "dev" "/" "POSTHOG_HOST"}}\n{{ if .Value }}\npassword = "{{ .Value }}"\n{{ end }}\n{{ end }}\n`).toString("base64")}
    destination-path: ${out.byName}
    permission: "0640"
  - source-path: ${d("my-dot-ev-secret-template")}
    destination-path: ${out.env}
    config:
      polling-interval: 1s
      change-stream: false
      execute:
        timeout: 30
        command: echo run >> ${d("env-runs")}
  - source-path: ${d("broken.tpl")}
    destination-path: ${out.broken}
    config:
      polling-interval: 1s
`);
    agent = spawnAgent(["--config", cfg]);
    await until(() => Object.values(out).every((p) => existsSync(p) && read(p) !== "old"), 20_000, "every file rendered").catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent.output()}`);
    });
    tokenAtStart = read(out.token)!;
  });
  after(async () => {
    await agent?.stop("SIGKILL");
    await s?.cleanup();
  });

  test("seed: secret with recursive false renders KEY=VALUE for the folder", () => {
    assert.equal(read(out.flat), "\nDB_HOST=db.internal\nDB_PASS=pw-1\nPOSTHOG_HOST=https://ph.example\n");
  });

  test("seed: secret with recursive true prefixes sub-folder keys with their SecretPath", () => {
    assert.equal(read(out.recursive), "\nDB_HOST=db.internal\nDB_PASS=pw-1\nPOSTHOG_HOST=https://ph.example\n/app/API_KEY=k-1\n/app/db/DEEP=d-1\n");
  });

  test("seed: getSecretByName (from base64-template-content), written with its 0640", () => {
    assert.equal(read(out.byName), '\n\npassword = "https://ph.example"\n\n\n');
    assert.equal(modeOf(out.byName), 0o640);
  });

  test("seed quick start: the .env template from source-path, 0600 by default, no command on first creation", () => {
    assert.equal(read(out.env), "\nDB_HOST=db.internal\nDB_PASS=pw-1\nPOSTHOG_HOST=https://ph.example\n");
    assert.equal(modeOf(out.env), 0o600);
    assert.equal(existsSync(join(f.dir, "env-runs")), false);
  });

  test("sinks hold a working token: 0600 by default, the configured 0640 over an existing 0644 file", async () => {
    assert.match(tokenAtStart, /\S{20,}/);
    assert.equal(read(out.token640), tokenAtStart);
    assert.equal(modeOf(out.token), 0o600);
    assert.equal(modeOf(out.token640), 0o640);
    const r = await api(s.address, "GET", `/api/v4/secrets?projectId=${f.projectId}&environment=dev`, { token: tokenAtStart });
    assert.equal(r.status, 200);
  });

  test("nothing changed: polling every second neither rewrites the file nor runs the command", async () => {
    const before = statSync(out.env);
    await sleep(2_600);
    const after = statSync(out.env);
    assert.equal(after.ino, before.ino, "the file was replaced");
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(existsSync(join(f.dir, "env-runs")), false);
  });

  test("push: a changed secret reaches a push-only template (5 min polling) within a second", async () => {
    const t0 = Date.now();
    await setSecret(s, f.projectId, "DB_PASS", "pw-2");
    const took = await until(() => read(out.flat)?.includes("DB_PASS=pw-2") === true, 5_000, "pushed update", 10);
    assert.ok(Date.now() - t0 < 1_000, `took ${Date.now() - t0} ms`);
    assert.ok(took < 1_000);
    // A change in a sub-folder reaches the recursive template the same way.
    const t1 = Date.now();
    await setSecret(s, f.projectId, "DEEP", "d-2", { path: "/app/db" });
    await until(() => read(out.recursive)?.includes("/app/db/DEEP=d-2") === true, 5_000, "pushed sub-folder update", 10);
    assert.ok(Date.now() - t1 < 1_000, `sub-folder took ${Date.now() - t1} ms`);
  });

  test("a changed secret: the polled .env is rewritten and its command runs exactly once", async () => {
    await until(() => read(out.env)?.includes("DB_PASS=pw-2") === true, 5_000, "polled update");
    await until(() => lines(join(f.dir, "env-runs")) >= 1, 5_000, "command ran");
    await sleep(2_200); // two more polls: no second run for the same change
    assert.equal(lines(join(f.dir, "env-runs")), 1);
  });

  test("a template error names the template, line and column, and the previous output stays", async () => {
    const good = read(out.broken);
    assert.equal(good, "db.internal\n");
    writeFileSync(join(f.dir, "broken.tpl"), `{{/* line 1 */}}\nhost={{ with getSecretByName "${f.projectId}" "dev" "/" "NO_SUCH_SECRET" }}{{ .Value }}{{ end }}\n`);
    const m = await agent.waitFor(/template broken\.tpl failed to render.*/, 5_000);
    assert.match(m[0], /template=broken\.tpl/);
    assert.match(m[0], /line=2/);
    assert.match(m[0], /column=13/);
    assert.match(m[0], /entry=templates\[4\]/);
    assert.match(m[0], /template: broken\.tpl:2:13: executing \\"broken\.tpl\\" at <getSecretByName .*>: error calling getSecretByName: .*404.*NO_SUCH_SECRET/);
    await sleep(1_200);
    assert.equal(read(out.broken), good);
    // The other templates go on.
    await setSecret(s, f.projectId, "DB_HOST", "db2.internal");
    await until(() => read(out.flat)?.includes("DB_HOST=db2.internal") === true, 3_000, "others still render");
  });

  test("a template error that prints a secret (range over one, eq on two) logs [REDACTED] in its place, at every retry", async () => {
    const value = `p@ss'w"rd-e2e`;
    await setSecret(s, f.projectId, "SPECIAL", value);
    const tpl = join(f.dir, "broken.tpl");
    writeFileSync(tpl, `{{ range getSecretByName "${f.projectId}" "dev" "/" "SPECIAL" }}{{ end }}\n`);
    const seen = agent.output().length;
    await until(() => (agent.output().slice(seen).match(/range can't iterate over \{SPECIAL .*\[REDACTED\]/g) ?? []).length >= 2, 8_000, "two redacted failures").catch((e: Error) => {
      throw new Error(`${e.message}\n${agent.output().slice(seen)}`);
    });
    writeFileSync(tpl, `{{ $a := getSecretByName "${f.projectId}" "dev" "/" "SPECIAL" }}{{ eq $a $a }}\n`);
    await agent.waitFor(/non-comparable type \{SPECIAL .*\[REDACTED\]/, 8_000);
    assert.ok(!agent.output().includes("p@ss"), agent.output().slice(seen));
  });

  test("revoke-credentials-on-shutdown: on SIGTERM the token stops working and the sinks are emptied", async () => {
    const token = read(out.token)!;
    assert.equal((await api(s.address, "GET", `/api/v4/secrets?projectId=${f.projectId}&environment=dev`, { token })).status, 200);
    const r = await agent.stop("SIGTERM");
    assert.equal(r.code, 0, agent.output());
    assert.equal(read(out.token), "");
    assert.equal(read(out.token640), "");
    assert.equal(modeOf(out.token640), 0o640);
    assert.equal((await api(s.address, "GET", `/api/v4/secrets?projectId=${f.projectId}&environment=dev`, { token })).status, 401);
    assert.match(agent.output(), /access token revoked/);
    // Nothing secret in the agent's log.
    assert.ok(!agent.output().includes(token));
    assert.ok(!agent.output().includes("pw-2"));
  });
});
