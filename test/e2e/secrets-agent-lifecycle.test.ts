import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { api, login, startServer } from "../helpers/server.js";
import { templateCommand } from "../../src/cli/template.js";
import type { TestServer } from "../helpers/server.js";
import { authYaml, makeFixture, setSecret, spawnAgent, until, writeConfig } from "./secrets-agent-harness.js";
import type { Fixture } from "./secrets-agent-harness.js";

/** The agent's life around the templates: exit-after-auth, the change stream going away, reloads, bad configs. */

const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);

/** A streaming pass-through proxy that can refuse the change stream, to show polling carries on alone. */
const proxy = async (target: () => string) => {
  let blockEvents = false;
  const server = createServer((req, res) => {
    if (blockEvents && req.url?.startsWith("/api/v1/secrets/events")) {
      res.writeHead(503, { "content-type": "application/json" }).end('{"statusCode":503,"error":"ServiceUnavailable","message":"blocked by the test proxy"}');
      return;
    }
    const t = new URL(target());
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    block: (v: boolean) => {
      blockEvents = v;
      if (v) server.closeAllConnections();
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
};

describe("kms agent lifecycle against a real server", () => {
  let s: TestServer;
  let f: Fixture;
  const tpl = (projectId: string, key: string) => `{{ with getSecretByName "${projectId}" "dev" "/" "${key}" }}{{ .Value }}{{ end }}`;

  before(async () => {
    s = await startServer();
    f = await makeFixture(s, "agent-life");
    await setSecret(s, f.projectId, "A", "a-1");
    await setSecret(s, f.projectId, "B", "b-1");
  });
  after(async () => s?.cleanup());

  test("exit-after-auth: sinks and templates written once, exit 0; any template error makes it exit 1", async () => {
    const ok = writeConfig(f, `kms:
  address: ${s.address}
  exit-after-auth: true
${authYaml(f)}sinks:
  - type: file
    config: { path: ${join(f.dir, "once-token")} }
templates:
  - template-content: '${tpl(f.projectId, "A")}'
    destination-path: ${join(f.dir, "once-a")}
`, "once.yaml");
    const a = spawnAgent(["--config", ok]);
    assert.equal((await a.exited).code, 0, a.output());
    assert.equal(read(join(f.dir, "once-a")), "a-1");
    assert.equal((await api(s.address, "GET", `/api/v4/secrets?projectId=${f.projectId}&environment=dev`, { token: read(join(f.dir, "once-token")) })).status, 200);

    const bad = writeConfig(f, `kms:
  address: ${s.address}
  exit-after-auth: true
${authYaml(f)}templates:
  - template-content: '${tpl(f.projectId, "A")}'
    destination-path: ${join(f.dir, "once-a2")}
  - template-content: '${tpl(f.projectId, "MISSING")}'
    destination-path: ${join(f.dir, "once-missing")}
`, "once-bad.yaml");
    const b = spawnAgent(["--config", bad]);
    assert.equal((await b.exited).code, 1, b.output());
    assert.equal(read(join(f.dir, "once-a2")), "a-1", "one failing template does not stop the others");
    assert.equal(existsSync(join(f.dir, "once-missing")), false);
    assert.match(b.output(), /template literalTemplate failed to render/);
  });

  test("the change stream cut (server restarted, then refused by a proxy): polling still updates, push comes back", async () => {
    const p = await proxy(() => s.address);
    const dest = join(f.dir, "stream-b");
    const cfg = writeConfig(f, `kms:
  address: ${p.address}
${authYaml(f)}templates:
  - template-content: '${tpl(f.projectId, "B")}'
    destination-path: ${dest}
    config:
      polling-interval: 1s
`, "stream.yaml");
    const a = spawnAgent(["--config", cfg]);
    try {
      await a.waitFor(/change stream connected/);
      await until(() => read(dest) === "b-1", 5_000, "first render");

      await s.restart();
      await setSecret(s, f.projectId, "B", "b-2");
      await until(() => read(dest) === "b-2", 5_000, "update after the server restart");
      await a.waitFor(/change stream connected[\s\S]*change stream connected/, 10_000);

      p.block(true);
      await a.waitFor(/change stream unavailable, polling continues/, 5_000);
      await setSecret(s, f.projectId, "B", "b-3");
      const t = await until(() => read(dest) === "b-3", 5_000, "polled update while the stream is refused");
      assert.ok(t < 2_500, `polling took ${t} ms`);

      p.block(false);
      await a.waitFor(/change stream connected[\s\S]*change stream connected[\s\S]*change stream connected/, 15_000);
      const t0 = Date.now();
      await setSecret(s, f.projectId, "B", "b-4");
      await until(() => read(dest) === "b-4", 5_000, "update once the stream is back", 10);
      assert.ok(Date.now() - t0 < 1_000);
    } finally {
      await a.stop();
      await p.close();
    }
  });

  test("SIGHUP reloads a valid configuration; an invalid one is refused and the running one stays", async () => {
    const first = join(f.dir, "hup-1");
    const second = join(f.dir, "hup-2");
    const yaml = (dest: string, key: string) => `kms:
  address: ${s.address}
${authYaml(f)}templates:
  - template-content: '${tpl(f.projectId, key)}'
    destination-path: ${dest}
`;
    const cfg = writeConfig(f, yaml(first, "A"), "hup.yaml");
    const a = spawnAgent(["--config", cfg]);
    try {
      await until(() => read(first) === "a-1", 10_000, "first config rendered");
      writeFileSync(cfg, `${yaml(second, "B")}bogus: 1\n`);
      a.proc.kill("SIGHUP");
      await a.waitFor(/configuration not reloaded.*unknown key \\"bogus\\"/);
      await setSecret(s, f.projectId, "B", "b-hup");
      writeFileSync(cfg, yaml(second, "B"));
      a.proc.kill("SIGHUP");
      await until(() => read(second) !== undefined, 5_000, "reloaded config rendered");
      assert.equal(read(second), "b-hup");
      await a.waitFor(/configuration reloaded/);
    } finally {
      assert.equal((await a.stop()).code, 0);
    }
  });

  test("a bad configuration: exit 2 before any network call, every problem with key path and line:column", async () => {
    const cfg = writeConfig(f, `kms:
  address: not-a-url
  retry-strategy:
    max-retries: many
auth:
  type: universal-auth
  config:
    client-id: ./nope/client-id
    client-secret: x
sinks:
  - type: file
    config:
      path: ${join(f.dir, "t")}
      permission: "0999"
templates:
  - template-content: "{{ .Key "
    destination-path: ${join(f.dir, "x")}
  - destination-path: ${join(f.dir, "x")}
    config:
      polling-interval: 5 minutes
`, "bad.yaml");
    const a = spawnAgent(["--config", cfg]);
    const r = await a.exited;
    assert.equal(r.code, 2);
    const o = a.output();
    for (const re of [
      /bad\.yaml:2:\d+: kms\.address: must be an http\(s\) URL/,
      /bad\.yaml:4:\d+: kms\.retry-strategy\.max-retries: expected number/,
      /bad\.yaml:8:\d+: auth\.config\.client-id: credential file "\.\/nope\/client-id" does not exist/,
      /bad\.yaml:14:\d+: sinks\[0\]\.config\.permission: invalid permission "0999"/,
      /bad\.yaml:16:\d+: templates\[0\]\.template-content: template: literalTemplate:1: unclosed action/,
      /bad\.yaml:18:\d+: templates\[1\]: needs one of source-path, template-content or base64-template-content/,
      /bad\.yaml:18:\d+: templates\[1\]\.destination-path: the same file is already written by templates\[0\]/,
      /bad\.yaml:20:\d+: templates\[1\]\.config\.polling-interval: .*unit/,
    ]) assert.match(o, re);
    assert.ok(!/authenticated|started/.test(o));
  });

  test("kubernetes auth outside a pod is a configuration error (exit 2, file:line:column), not a failed start", async () => {
    if (existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) return;
    const cfg = writeConfig(f, `kms:\n  address: ${s.address}\nauth:\n  type: kubernetes\n  config:\n    identity-id: id-1\n`, "k8s-default.yaml");
    const a = spawnAgent(["--config", cfg]);
    assert.equal((await a.exited).code, 2, a.output());
    assert.match(a.output(), /k8s-default\.yaml:4:9: auth\.type: service-account token ".*" \(the default\) does not exist/);
  });

  test("a risky permission is warned about with its key and where it was written, and the agent works", async () => {
    const dest = join(f.dir, "risky-out");
    const cfg = writeConfig(f, `kms:
  address: ${s.address}
  exit-after-auth: true
${authYaml(f)}templates:
  - template-content: '${tpl(f.projectId, "A")}'
    destination-path: ${dest}
    permission: "4777"
`, "risky.yaml");
    const a = spawnAgent(["--config", cfg]);
    assert.equal((await a.exited).code, 0, a.output());
    assert.match(a.output(), /WARN .*risky\.yaml:13:17: templates\[0\]\.permission: permission 04777 sets setuid, setgid or sticky bits/);
    assert.equal(read(dest), "a-1");
    assert.equal(statSync(dest).mode & 0o7777, 0o4777, "the permission applies all the same");
  });

  test("the configuration may come base64-encoded in KMS_AGENT_CONFIG_BASE64", async () => {
    const yaml = `kms:
  address: ${s.address}
  exit-after-auth: true
${authYaml(f)}templates:
  - template-content: '${tpl(f.projectId, "A")}'
    destination-path: ${join(f.dir, "b64-out")}
    config:
      execute:
        command: env > ${join(f.dir, "b64-command-env")}
`;
    // An older file, so the first render replaces it and the command runs.
    writeFileSync(join(f.dir, "b64-out"), "old");
    const a = spawnAgent([], { KMS_AGENT_CONFIG_BASE64: Buffer.from(yaml).toString("base64") });
    assert.equal((await a.exited).code, 0, a.output());
    assert.equal(read(join(f.dir, "b64-out")), "a-1");
    const env = read(join(f.dir, "b64-command-env")) ?? "";
    assert.match(env, /^KMS_TEMPLATE_DESTINATION=/m, "the command ran");
    assert.doesNotMatch(env, /KMS_AGENT_CONFIG_BASE64/, "the agent's configuration (and its client secret) reached the command");
  });

  test("kms template render --address previews a template with live secrets (token from KMS_TOKEN)", async () => {
    const file = join(f.dir, "preview.tpl");
    writeFileSync(file, `{{ range secret "${f.projectId}" "dev" "/" }}{{ .Key }};{{ end }}\n{{ (getSecretByName "${f.projectId}" "dev" "/" "A").Value }}\n`);
    const out: string[] = [];
    const err: string[] = [];
    let code = 0;
    const io = { stdout: (x: string) => void out.push(x), stderr: (x: string) => void err.push(x), setExitCode: (c: number) => void (code = c) };
    const saved = process.env.KMS_TOKEN;
    process.env.KMS_TOKEN = await login(s.address, readFileSync(f.clientIdFile, "utf8"), readFileSync(f.clientSecretFile, "utf8"));
    try {
      await templateCommand(undefined, io).parseAsync(["node", "kms", "render", file, "--address", s.address]);
      assert.equal(code, 0, err.join(""));
      assert.equal(out.join(""), "A;B;\na-1\n");
      // An error that prints a secret shows [REDACTED] in its place.
      const bad = join(f.dir, "preview-bad.tpl");
      writeFileSync(bad, `{{ range getSecretByName "${f.projectId}" "dev" "/" "A" }}{{ end }}`);
      err.length = 0;
      await templateCommand(undefined, io).parseAsync(["node", "kms", "render", bad, "--address", s.address]);
      assert.equal(code, 1);
      assert.match(err.join(""), /range can't iterate over \{A .*\[REDACTED\]/);
      assert.doesNotMatch(err.join(""), /a-1/);
      // An empty name is named as such (it used to reach the list route: "expected object, received undefined").
      writeFileSync(bad, `{{ getSecretByName "${f.projectId}" "dev" "/" "" }}`);
      err.length = 0;
      await templateCommand(undefined, io).parseAsync(["node", "kms", "render", bad, "--address", s.address]);
      assert.equal(code, 1);
      assert.match(err.join(""), /error calling getSecretByName: the secret name \(argument 4\) is empty/);
      // dynamic_secret is known to the preview, which makes no leases.
      writeFileSync(bad, `{{ dynamic_secret "${f.projectSlug}" "dev" "/" "pg" }}`);
      err.length = 0;
      await templateCommand(undefined, io).parseAsync(["node", "kms", "render", bad, "--address", s.address]);
      assert.equal(code, 1);
      assert.match(err.join(""), /error calling dynamic_secret: dynamic secrets are not available here \(a preview does not create leases\)/);
      delete process.env.KMS_TOKEN;
      await templateCommand(undefined, io).parseAsync(["node", "kms", "render", file, "--address", s.address]);
      assert.equal(code, 2);
      assert.match(err.join(""), /--address needs an access token in KMS_TOKEN/);
    } finally {
      if (saved === undefined) delete process.env.KMS_TOKEN;
      else process.env.KMS_TOKEN = saved;
    }
  });

  test("every new token reaches the sink, atomically, and works", async () => {
    // This server's renewal keeps the token string; a 3 s max TTL forces a new login (a new token) every ~1.3 s.
    const short = await makeFixture(s, "agent-renew", "viewer", { accessTokenTTL: 2, accessTokenMaxTTL: 3 });
    const sink = join(short.dir, "token");
    const cfg = writeConfig(short, `kms:
  address: ${s.address}
${authYaml(short)}sinks:
  - type: file
    config: { path: ${sink}, permission: "0640" }
`);
    const a = spawnAgent(["--config", cfg]);
    try {
      const seen = new Set<string>();
      await until(() => {
        const t = read(sink);
        if (t) seen.add(t);
        return seen.size >= 3;
      }, 10_000, "three tokens in the sink").catch((e: Error) => {
        throw new Error(`${e.message}\n${a.output()}`);
      });
      assert.ok(![...seen].includes(""), "the sink was never seen empty or half-written");
      const r = await api(s.address, "GET", `/api/v4/secrets?projectId=${short.projectId}&environment=dev`, { token: read(sink) });
      assert.equal(r.status, 200);
    } finally {
      await a.stop();
    }
  });
});
