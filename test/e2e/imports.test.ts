import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";

describe("secret imports (api.md 4.5, 4.6)", () => {
  let s: TestServer;
  let project: { id: string; slug: string };
  let member = "";
  let outsider = "";
  const call = (method: string, path: string, body?: unknown, token = member) => api(s.address, method, path, { token, body });
  const put = async (env: string, path: string, key: string, value: string) => {
    const r = await call("POST", `/api/v3/secrets/raw/${key}`, { workspaceId: project.id, environment: env, secretPath: path, secretValue: value });
    assert.equal(r.status, 200, r.text);
  };
  const folder = async (env: string, path: string, name: string) =>
    assert.equal((await call("POST", "/api/v1/folders", { workspaceId: project.id, environment: env, path, name })).status, 200);
  const importInto = (env: string, path: string, from: { environment: string; path: string }, version = "v2") =>
    call("POST", `/api/${version}/secret-imports`, { [version === "v2" ? "projectId" : "workspaceId"]: project.id, environment: env, path, import: from });
  const entries = (body: any) => body.imports.map((i: any) => `${i.environment}:${i.secretPath}=${i.secrets.map((x: any) => `${x.secretKey}:${x.secretValue}`).join(",")}`);

  before(async () => {
    s = await startServer();
    const mk = async (slug: string) => (await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: slug, slug } })).body.project;
    project = await mk("imports-main");
    const other = await mk("imports-other");
    const join = async (name: string, projectId: string, role: string) => {
      const c = await createUaIdentity(s, name);
      await api(s.address, "POST", `/api/v1/projects/${projectId}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role, isTemporary: false }] } });
      return login(s.address, c.clientId, c.clientSecret);
    };
    [member, outsider] = await Promise.all([join("member", project.id, "member"), join("outsider", other.id, "admin")]);
    // prod:/shared holds common secrets and itself imports prod:/base; staging:/ imports dev:/ too.
    await folder("prod", "/", "shared");
    await folder("prod", "/", "base");
    await put("prod", "/shared", "SHARED", "s");
    await put("prod", "/shared", "DUP", "from-shared");
    await put("prod", "/base", "BASE", "b");
    await put("dev", "/", "DUP", "from-dev");
    await put("dev", "/", "DEV_ONLY", "d");
    await put("staging", "/", "OWN", "o");
    await put("staging", "/", "DUP", "own-wins");
  });
  after(() => s.cleanup());

  test("create (v2 and the v1 alias) and list in position order", async () => {
    const a = await importInto("staging", "/", { environment: "prod", path: "/shared" });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.body.message, "Successfully created secret import");
    assert.deepEqual(Object.keys(a.body.secretImport), ["id", "folderId", "position", "importPath", "isReplication", "importEnv", "createdAt", "updatedAt"]);
    assert.deepEqual([a.body.secretImport.position, a.body.secretImport.importPath, a.body.secretImport.importEnv.slug], [1, "/shared", "prod"]);
    const b = await importInto("staging", "/", { environment: "dev", path: "/" }, "v1");
    assert.equal(b.status, 200, b.text);
    assert.equal(b.body.secretImport.position, 2);
    const chain = await importInto("prod", "/shared", { environment: "prod", path: "/base/" });
    assert.equal(chain.status, 200, chain.text);
    assert.equal(chain.body.secretImport.importPath, "/base");
    const l = await call("GET", `/api/v2/secret-imports?projectId=${project.id}&environment=staging&path=/`);
    assert.deepEqual(l.body.secretImports.map((i: any) => `${i.position}:${i.importEnv.slug}:${i.importPath}`), ["1:prod:/shared", "2:dev:/"]);
    const v1 = await call("GET", `/api/v1/secret-imports?workspaceId=${project.id}&environment=staging`);
    assert.equal(v1.body.secretImports.length, 2);
  });

  test("a list flattens imports in position order, chains included, own secrets apart", async () => {
    const r = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=staging&include_imports=true`);
    assert.deepEqual(r.body.secrets.map((x: any) => x.secretKey), ["DUP", "OWN"]);
    assert.deepEqual(entries(r.body), ["prod:/shared=DUP:from-shared,SHARED:s,BASE:b", "dev:/=DEV_ONLY:d,DUP:from-dev"]);
    const imported = r.body.imports[0].secrets[0];
    assert.equal(imported.createdAt, undefined, "import entries carry no timestamps");
    assert.equal(imported.environment, "prod");
    assert.equal(imported.secretPath, "/shared");
    assert.equal(r.body.imports[0].secrets[2].secretPath, "/base", "a chained secret keeps its own folder");
    assert.match(r.body.imports[0].folderId, /^[0-9a-f-]{36}$/);
    const camel = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=staging&includeImports=true`);
    assert.deepEqual(entries(camel.body), entries(r.body), "both spellings");
    const off = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=staging&includeImports=false`);
    assert.equal(off.body.imports, undefined);
    const v4 = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=staging&include_imports=true`);
    assert.deepEqual(entries(v4.body), entries(r.body));
  });

  test("get by name: own folder first, then the first import that has the key", async () => {
    const get = (name: string, q = "&include_imports=true") => call("GET", `/api/v3/secrets/raw/${name}?workspaceId=${project.id}&environment=staging${q}`);
    assert.equal((await get("DUP")).body.secret.secretValue, "own-wins");
    assert.equal((await get("SHARED")).body.secret.secretValue, "s");
    const base = await get("BASE");
    assert.deepEqual([base.body.secret.secretValue, base.body.secret.environment, base.body.secret.secretPath], ["b", "prod", "/base"]);
    assert.equal((await get("DEV_ONLY", "&includeImports=true")).body.secret.secretValue, "d", "the SDK's camelCase spelling");
    assert.equal((await get("DEV_ONLY", "")).status, 404, "no fallback unless imports are asked for");
    const v4 = await call("GET", `/api/v4/secrets/DEV_ONLY?projectId=${project.id}&environment=staging&type=shared`);
    assert.equal(v4.body.secret.secretValue, "d", "v4 includes imports by default");
  });

  test("cycles and self-imports are safe; a missing imported folder gives an empty entry", async () => {
    // prod:/base imports staging:/ which imports prod:/shared which imports prod:/base: a cycle.
    assert.equal((await importInto("prod", "/base", { environment: "staging", path: "/" })).status, 200);
    const r = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=staging&include_imports=true`);
    assert.deepEqual(entries(r.body), ["prod:/shared=DUP:from-shared,SHARED:s,BASE:b", "dev:/=DEV_ONLY:d,DUP:from-dev"], "the chain stops where it comes back");
    const self = await importInto("dev", "/", { environment: "dev", path: "/" });
    assert.equal(self.status, 400);
    const dup = await importInto("staging", "/", { environment: "prod", path: "/shared" });
    assert.equal(dup.status, 400);
    assert.equal((await importInto("staging", "/", { environment: "prod", path: "/not/yet" })).status, 200);
    const m = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=staging&include_imports=true`);
    assert.deepEqual(m.body.imports[2], { secretPath: "/not/yet", environment: "prod", folderId: null, secrets: [] });
  });

  test("bad input and permissions", async () => {
    const trav = await importInto("staging", "/", { environment: "prod", path: "/shared/../base" });
    assert.equal(trav.status, 400);
    assert.match(trav.body.message, /^import\.path: /);
    const travFrom = await call("POST", "/api/v2/secret-imports", { projectId: project.id, environment: "staging", path: "/../x", import: { environment: "prod", path: "/" } });
    assert.match(travFrom.body.message, /^path: /);
    const env = await importInto("staging", "/", { environment: "qa", path: "/" });
    assert.equal(env.status, 404);
    assert.equal(env.body.message, `Environment with slug 'qa' in project with ID ${project.id} not found`);
    const noFolder = await call("POST", "/api/v2/secret-imports", { projectId: project.id, environment: "staging", path: "/nope", import: { environment: "prod", path: "/" } });
    assert.equal(noFolder.status, 404);
    const missing = await call("POST", "/api/v2/secret-imports", { projectId: project.id, environment: "staging" });
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body.message[0].path, ["body", "import"]);
    const outsiderImport = await call("POST", "/api/v2/secret-imports", { projectId: project.id, environment: "staging", import: { environment: "prod", path: "/" } }, outsider);
    assert.equal(outsiderImport.status, 403);
  });

  test("delete an import", async () => {
    const l = await call("GET", `/api/v2/secret-imports?projectId=${project.id}&environment=staging`);
    const last = l.body.secretImports.at(-1);
    const wrongFolder = await call("DELETE", `/api/v2/secret-imports/${last.id}`, { projectId: project.id, environment: "dev" });
    assert.equal(wrongFolder.status, 404);
    const d = await call("DELETE", `/api/v2/secret-imports/${last.id}`, { projectId: project.id, environment: "staging", path: "/" });
    assert.equal(d.status, 200, d.text);
    assert.equal(d.body.secretImport.importPath, "/not/yet");
    const after = await call("GET", `/api/v2/secret-imports?projectId=${project.id}&environment=staging`);
    assert.equal(after.body.secretImports.length, l.body.secretImports.length - 1);
  });
});

describe("secret imports on PostgreSQL: concurrent creates", () => {
  let s: TestServer | undefined;
  let pg: ReturnType<typeof createPgDatabase> | undefined;

  before(async (t) => {
    if (!(await needService(t as any, "postgres"))) return;
    pg = createPgDatabase();
    s = await startServer({ databaseUrl: pg.url });
  });
  after(async () => {
    await s?.cleanup();
    pg?.drop();
  });

  test("the same import sent many times at once is created once; different ones get distinct positions", async (t) => {
    if (!s) return t.skip("postgres unavailable");
    const srv = s;
    const project = (await api(srv.address, "POST", "/api/v1/projects", { token: srv.adminToken, body: { projectName: "imports-race", slug: "imports-race" } })).body.project;
    const importInto = (env: string, path: string) =>
      api(srv.address, "POST", "/api/v2/secret-imports", { token: srv.adminToken, body: { projectId: project.id, environment: env, import: { environment: "prod", path } } });
    const same = await Promise.all(Array.from({ length: 8 }, () => importInto("staging", "/shared")));
    assert.deepEqual(same.map((r) => r.status).sort(), [200, 400, 400, 400, 400, 400, 400, 400], same.map((r) => r.text).join("\n"));
    assert.ok(same.filter((r) => r.status === 400).every((r) => /already exists/.test(r.body.message)));
    const listed = await api(srv.address, "GET", `/api/v2/secret-imports?projectId=${project.id}&environment=staging`, { token: srv.adminToken });
    assert.equal(listed.body.secretImports.length, 1);

    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => importInto("dev", `/p${i}`)));
    assert.ok(many.every((r) => r.status === 200), many.map((r) => r.text).join("\n"));
    const dev = await api(srv.address, "GET", `/api/v2/secret-imports?projectId=${project.id}&environment=dev`, { token: srv.adminToken });
    assert.deepEqual(dev.body.secretImports.map((i: any) => i.position), [1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
