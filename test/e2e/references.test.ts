import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";

describe("secret references (api.md 4.4)", () => {
  let s: TestServer;
  let project: { id: string };
  let other: { id: string };
  let member = "";
  let outsider = "";
  const call = (method: string, path: string, body?: unknown, token = member) => api(s.address, method, path, { token, body });
  const put = async (env: string, path: string, key: string, value: string, extra: Record<string, unknown> = {}, projectId = project.id, token = member) => {
    const r = await call("POST", `/api/v3/secrets/raw/${key}`, { workspaceId: projectId, environment: env, secretPath: path, secretValue: value, ...extra }, token);
    assert.equal(r.status, 200, r.text);
  };
  const values = async (env: string, path = "/", q = "&expandSecretReferences=true") => {
    const r = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=${env}&secretPath=${encodeURIComponent(path)}${q}`);
    assert.equal(r.status, 200, r.text);
    return Object.fromEntries(r.body.secrets.map((x: any) => [x.secretKey, x.secretValue]));
  };

  before(async () => {
    s = await startServer();
    const mk = async (slug: string) => (await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: slug, slug } })).body.project;
    project = await mk("refs-main");
    other = await mk("refs-other");
    const join = async (name: string, projectId: string, role: string) => {
      const c = await createUaIdentity(s, name);
      await api(s.address, "POST", `/api/v1/projects/${projectId}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role, isTemporary: false }] } });
      return login(s.address, c.clientId, c.clientSecret);
    };
    [member, outsider] = await Promise.all([join("member", project.id, "member"), join("outsider", other.id, "admin")]);
    await call("POST", "/api/v1/folders", { workspaceId: project.id, environment: "prod", path: "/app", name: "db" });
    await put("prod", "/", "HOST", "db.prod");
    await put("prod", "/app/db", "USER", "svc");
    await put("prod", "/app/db", "PASS", "${USER}-pw");
    await put("prod", "/", "ML", "line1\nline2");
    await put("dev", "/", "HOST", "localhost");
    await put("dev", "/", "LOCAL", "${HOST}:5432");
    await put("dev", "/", "CROSS", "${prod.HOST}");
    await put("dev", "/", "DEEP", "${prod.app.db.USER}:${prod.app.db.PASS}@${LOCAL}");
    await put("dev", "/", "MISSING", "${NOPE} ${prod.NOPE} ${qa.HOST} ${prod.app.NOPE}");
    await put("dev", "/", "CYCLE_A", "a${CYCLE_B}");
    await put("dev", "/", "CYCLE_B", "b${CYCLE_A}");
    await put("dev", "/", "QUOTED", "${prod.ML}", { skipMultilineEncoding: true });
    await put("dev", "/", "UNQUOTED", "${prod.ML}");
    // The outsider's project has an environment and a secret of the same names.
    await put("dev", "/", "HOST", "outsider-secret", {}, other.id, outsider);
    await put("dev", "/", "TOKEN", "outsider-token", {}, other.id, outsider);
  });
  after(() => s.cleanup());

  test("local, cross-environment, folder and nested references expand", async () => {
    const v = await values("dev");
    assert.equal(v.LOCAL, "localhost:5432");
    assert.equal(v.CROSS, "db.prod");
    assert.equal(v.DEEP, "svc:svc-pw@localhost:5432", "nested local references resolve in their own folder");
  });

  test("missing references stay verbatim; cycles stop silently", async () => {
    const v = await values("dev");
    assert.equal(v.MISSING, "${NOPE} ${prod.NOPE} ${qa.HOST} ${prod.app.NOPE}");
    assert.equal(v.CYCLE_A, "aba${CYCLE_B}");
    assert.equal(v.CYCLE_B, "bab${CYCLE_A}");
  });

  test("the skipMultilineEncoding quirk quotes expanded multi-line values", async () => {
    const v = await values("dev");
    assert.equal(v.QUOTED, '"line1\\nline2"');
    assert.equal(v.UNQUOTED, "line1\nline2");
  });

  test("expansion is off on v3 unless asked for, and applies to get-by-name and imported secrets", async () => {
    assert.equal((await values("dev", "/", "")).LOCAL, "${HOST}:5432");
    const one = await call("GET", `/api/v3/secrets/raw/DEEP?workspaceId=${project.id}&environment=dev&expandSecretReferences=true`);
    assert.equal(one.body.secret.secretValue, "svc:svc-pw@localhost:5432");
    const v4 = await call("GET", `/api/v4/secrets/DEEP?projectId=${project.id}&environment=dev`);
    assert.equal(v4.body.secret.secretValue, "svc:svc-pw@localhost:5432", "v4 expands by default");
    await call("POST", "/api/v2/secret-imports", { projectId: project.id, environment: "staging", import: { environment: "prod", path: "/app/db" } });
    const imp = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=staging`);
    assert.deepEqual(imp.body.imports[0].secrets.map((x: any) => x.secretValue), ["svc-pw", "svc"], "an imported secret expands in its own folder");
  });

  test("references never leave the project: another project's secrets are unreachable", async () => {
    // `${dev.TOKEN}` names this project's dev environment; the other project's TOKEN must not appear.
    await put("staging", "/", "PROBE", "${dev.TOKEN}|${dev.HOST}|${refs-other.dev.TOKEN}");
    const v = await values("staging");
    assert.equal(v.PROBE, "${dev.TOKEN}|localhost|${refs-other.dev.TOKEN}");
    const all = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=staging&recursive=true`);
    assert.ok(!all.text.includes("outsider-"));
    // And the other project's identity cannot read this project's secrets through any read route.
    for (const path of [
      `/api/v4/secrets?projectId=${project.id}&environment=dev`,
      `/api/v4/secrets/CROSS?projectId=${project.id}&environment=dev`,
      `/api/v3/secrets/raw?workspaceId=${project.id}&environment=prod&include_imports=true&recursive=true`,
    ]) {
      const r = await call("GET", path, undefined, outsider);
      assert.equal(r.status, 403, path);
      assert.ok(!r.text.includes("db.prod"));
    }
    // Imports cannot cross projects either: `prod` in the other project's import is that project's own prod.
    const imp = await call("POST", "/api/v2/secret-imports", { projectId: other.id, environment: "dev", import: { environment: "prod", path: "/" } }, outsider);
    assert.equal(imp.status, 200, imp.text);
    const theirs = await call("GET", `/api/v4/secrets?projectId=${other.id}&environment=dev&includeImports=true`, undefined, outsider);
    assert.deepEqual(theirs.body.imports.map((i: any) => i.secrets.length), [0]);
    assert.ok(!theirs.text.includes("db.prod"));
  });

  test("values that multiply references are bounded: answered unexpanded, quickly, and the server stays responsive", async () => {
    // L0 = ten ${L1}, L1 = ten ${L2}, ...: expanding L0 meant 10^7 substitutions (10^9 with two more
    // levels), which held the whole server; every value it would have served is answered unexpanded instead.
    await call("POST", "/api/v1/folders", { workspaceId: project.id, environment: "dev", path: "/", name: "bomb" });
    const raw = (i: number) => `\${L${i + 1}}`.repeat(10);
    for (let i = 0; i < 7; i++) await put("dev", "/bomb", `L${i}`, raw(i));
    await put("dev", "/bomb", "L7", "x");
    const t0 = performance.now();
    const one = await fetch(`${s.address}/api/v4/secrets/L0?projectId=${project.id}&environment=dev&secretPath=/bomb`, {
      headers: { authorization: `Bearer ${member}` }, signal: AbortSignal.timeout(5000),
    });
    assert.equal(one.status, 200);
    assert.equal(((await one.json()) as any).secret.secretValue, raw(0));
    assert.ok(performance.now() - t0 < 5000);
    const r = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev&secretPath=/bomb`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.secrets.find((x: any) => x.secretKey === "L0").secretValue, raw(0));
    assert.ok(r.text.length < 2_000_000, `a bounded answer (${r.text.length} bytes)`);
    assert.equal((await values("dev")).LOCAL, "localhost:5432", "other reads are unaffected");
  });

  test("one answer expands at most 16 MiB: later values that would pass it stay verbatim, the same on every read", async () => {
    await call("POST", "/api/v1/folders", { workspaceId: project.id, environment: "dev", path: "/", name: "wide" });
    await put("dev", "/wide", "BIG", "b".repeat(500_000));
    for (let i = 0; i < 40; i++) await put("dev", "/wide", `W${String(i).padStart(2, "0")}`, "${BIG}");
    const read = () => call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev&secretPath=/wide`);
    const r = await read();
    assert.equal(r.status, 200);
    const ws = r.body.secrets.filter((x: any) => x.secretKey.startsWith("W"));
    const expanded = ws.filter((x: any) => x.secretValue.length === 500_000).length;
    assert.equal(expanded, 33, "16 MiB holds 33 expansions of 500,000 characters");
    assert.ok(ws.slice(33).every((x: any) => x.secretValue === "${BIG}"), "the ones after stay verbatim");
    // Another server process, no shared cache: the same choice, the same bytes.
    await s.restart();
    assert.equal((await read()).headers.get("etag"), r.headers.get("etag"));
  });

  test("renaming a referenced environment changes the (cached) answer at once", async () => {
    const before = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev`);
    assert.equal(before.body.secrets.find((x: any) => x.secretKey === "CROSS").secretValue, "db.prod");
    const envs = (await api(s.address, "GET", `/api/v1/projects/${project.id}`, { token: s.adminToken })).body.project.environments;
    const prod = envs.find((e: any) => e.slug === "prod");
    const rename = (slug: string) => api(s.address, "PATCH", `/api/v1/projects/${project.id}/environments/${prod.id}`, { token: s.adminToken, body: { slug } });
    assert.equal((await rename("production")).status, 200);
    try {
      const after = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev`);
      assert.equal(after.body.secrets.find((x: any) => x.secretKey === "CROSS").secretValue, "${prod.HOST}");
      assert.notEqual(after.headers.get("etag"), before.headers.get("etag"));
      const staging = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=staging`);
      assert.equal(staging.body.imports[0].environment, "production", "import entries name the environment's new slug");
    } finally {
      await rename("prod");
    }
  });
});
