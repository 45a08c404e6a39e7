import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";

const FOLDER_FIELDS = ["id", "name", "envId", "parentId", "version", "isReserved", "description", "lastSecretModified", "createdAt", "updatedAt", "path"];

describe("folders (api.md 3.4)", () => {
  let s: TestServer;
  let project: { id: string; slug: string };
  let member = "";
  let viewer = "";
  let outsider = "";
  const call = (method: string, path: string, body?: unknown, token = member) => api(s.address, method, path, { token, body });
  const where = (env = "dev") => ({ workspaceId: project.id, environment: env });
  const paths = async (query: string, token = member) => {
    const r = await call("GET", `/api/v1/folders?workspaceId=${project.id}&environment=dev${query}`, undefined, token);
    assert.equal(r.status, 200, r.text);
    return r.body.folders.map((f: { path: string }) => f.path);
  };

  before(async () => {
    s = await startServer();
    const mk = async (slug: string) => (await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: slug, slug } })).body.project;
    project = await mk("folders-main");
    const other = await mk("folders-other");
    const join = async (name: string, projectId: string, role: string) => {
      const c = await createUaIdentity(s, name);
      await api(s.address, "POST", `/api/v1/projects/${projectId}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role, isTemporary: false }] } });
      return login(s.address, c.clientId, c.clientSecret);
    };
    [member, viewer, outsider] = await Promise.all([join("member", project.id, "member"), join("viewer", project.id, "viewer"), join("outsider", other.id, "admin")]);
  });
  after(() => s.cleanup());

  test("create answers the folder object with its path; missing parents are created", async () => {
    const r = await call("POST", "/api/v1/folders", { ...where(), name: "db", path: "/app/backend", description: "databases" });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body.folder), FOLDER_FIELDS);
    assert.equal(r.body.folder.path, "/app/backend/db");
    assert.equal(r.body.folder.description, "databases");
    assert.equal(r.body.folder.isReserved, false);
    assert.deepEqual(await paths("&recursive=true"), ["/app", "/app/backend", "/app/backend/db"]);
    const parent = (await call("GET", `/api/v1/folders?workspaceId=${project.id}&environment=dev&path=/app`)).body.folders[0];
    assert.equal(r.body.folder.parentId, parent.id);
  });

  test("direct children vs recursive listing, with path or the CLI's directory", async () => {
    await call("POST", "/api/v1/folders", { ...where(), name: "frontend", directory: "/app" });
    await call("POST", "/api/v2/folders", { projectId: project.id, environment: "dev", name: "ops" });
    assert.deepEqual(await paths(""), ["/app", "/ops"]);
    assert.deepEqual(await paths("&path=/app"), ["/app/backend", "/app/frontend"]);
    assert.deepEqual(await paths("&directory=/app/"), ["/app/backend", "/app/frontend"]);
    const rec = await call("GET", `/api/v1/folders?workspaceId=${project.id}&environment=dev&path=/app&recursive=1`);
    assert.deepEqual(rec.body.folders.map((f: any) => [f.path, f.relativePath]), [["/app/backend", "/backend"], ["/app/backend/db", "/backend/db"], ["/app/frontend", "/frontend"]]);
    assert.deepEqual(await paths("&path=/app&recursive=false"), ["/app/backend", "/app/frontend"]);
    assert.deepEqual(await paths("&path=/app&recursive=0"), ["/app/backend", "/app/frontend"]);
    assert.deepEqual(await paths("&path=/nowhere"), [], "an unknown path lists nothing");
    const v2 = await call("GET", `/api/v2/folders?projectId=${project.id}&environment=dev`);
    assert.equal(v2.body.folders.length, 2);
    const byId = await call("GET", `/api/v1/folders/${rec.body.folders[0].id}`, undefined, viewer);
    assert.equal(byId.body.folder.path, "/app/backend");
    assert.equal(byId.body.folder.environment, "dev");
    assert.equal((await call("GET", `/api/v1/folders/${rec.body.folders[0].id}`, undefined, outsider)).status, 403);
  });

  test("duplicates, bad names and path traversal are refused, naming the field", async () => {
    const dup = await call("POST", "/api/v1/folders", { ...where(), name: "app" });
    assert.equal(dup.status, 400);
    assert.equal(dup.body.message, "Folder with name 'app' already exists at path '/'");
    for (const name of ["a b", "../x", "a/b", ".", ""]) {
      const r = await call("POST", "/api/v1/folders", { ...where(), name });
      assert.equal(r.status, 422, name);
      assert.deepEqual(r.body.message[0].path, ["body", "name"]);
    }
    const cases: [string, unknown, string][] = [
      ["POST", { ...where(), name: "x", path: "/app/../ops" }, "path"],
      ["POST", { ...where(), name: "x", directory: "/app//ops" }, "directory"],
      ["POST", { ...where(), name: "x", path: "/./app" }, "path"],
    ];
    for (const [method, body, field] of cases) {
      const r = await call(method, "/api/v1/folders", body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.message, new RegExp(`^${field}: `));
    }
    const q = await call("GET", `/api/v1/folders?workspaceId=${project.id}&environment=dev&directory=/app/../../etc`);
    assert.equal(q.status, 400);
    assert.match(q.body.message, /^directory: .*'\.\.' segments are not allowed/);
    const del = await call("DELETE", "/api/v1/folders/app", { ...where(), path: "/ops/.." });
    assert.equal(del.status, 400);
    assert.deepEqual(await paths(""), ["/app", "/ops"], "nothing changed");
    const env = await call("POST", "/api/v1/folders", { ...where("qa"), name: "x" });
    assert.equal(env.status, 404);
    assert.equal(env.body.message, `Environment with slug 'qa' in project with ID ${project.id} not found`);
    assert.equal((await call("POST", "/api/v1/folders", { ...where(), name: 5 })).status, 422);
  });

  test("rename moves the subtree and its secrets; the folder version goes up", async () => {
    const secret = await call("POST", "/api/v3/secrets/raw/DSN", { ...where(), secretPath: "/app/backend/db", secretValue: "pg://x" });
    assert.equal(secret.status, 200, secret.text);
    const imp = await call("POST", "/api/v2/secret-imports", { projectId: project.id, environment: "staging", import: { environment: "dev", path: "/app/backend/db" } });
    assert.equal(imp.status, 200, imp.text);
    const backend = (await call("GET", `/api/v1/folders?workspaceId=${project.id}&environment=dev&path=/app`)).body.folders.find((f: any) => f.name === "backend");
    const r = await call("PATCH", `/api/v1/folders/${backend.id}`, { ...where(), path: "/app", name: "server", description: "renamed" });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.body.folder.path, r.body.folder.version, r.body.folder.description], ["/app/server", 2, "renamed"]);
    assert.deepEqual(await paths("&recursive=true"), ["/app", "/app/frontend", "/app/server", "/app/server/db", "/ops"]);
    const moved = await call("GET", `/api/v3/secrets/raw/DSN?workspaceId=${project.id}&environment=dev&secretPath=/app/server/db`);
    assert.equal(moved.body.secret.secretValue, "pg://x");
    assert.equal(moved.body.secret.secretPath, "/app/server/db");
    const imports = await call("GET", `/api/v2/secret-imports?projectId=${project.id}&environment=staging`);
    assert.deepEqual(imports.body.secretImports.map((i: any) => i.importPath), ["/app/server/db"], "imports follow the rename");
    const viaImport = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=staging`);
    assert.deepEqual(viaImport.body.imports[0].secrets.map((x: any) => x.secretKey), ["DSN"]);
    // The CLI names folders instead of giving ids.
    const byName = await call("PATCH", "/api/v1/folders/frontend", { ...where(), directory: "/app", name: "web" });
    assert.equal(byName.body.folder.path, "/app/web");
    const clash = await call("PATCH", "/api/v1/folders/web", { ...where(), path: "/app", name: "server" });
    assert.equal(clash.status, 400);
    assert.equal((await call("PATCH", "/api/v1/folders/nope", { ...where(), path: "/app", name: "x" })).status, 404);
  });

  test("lastSecretModified filters folders whose secrets changed since", async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    await call("POST", "/api/v3/secrets/raw/TOUCH", { ...where(), secretPath: "/ops", secretValue: "1" });
    assert.deepEqual(await paths(`&lastSecretModified=${encodeURIComponent(before)}`), ["/ops"]);
    assert.deepEqual(await paths(`&lastSecretModified=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), []);
    assert.equal((await call("GET", `/api/v1/folders?workspaceId=${project.id}&environment=dev&lastSecretModified=yesterday`)).status, 400);
  });

  test("delete removes the folder with everything below it; viewers cannot write", async () => {
    assert.equal((await call("POST", "/api/v1/folders", { ...where(), name: "nope" }, viewer)).status, 403);
    assert.equal((await call("DELETE", "/api/v1/folders/server", { ...where(), path: "/app" }, viewer)).status, 403);
    const d = await call("DELETE", "/api/v1/folders/server", { ...where(), path: "/app" });
    assert.equal(d.status, 200, d.text);
    assert.equal(d.body.folder.path, "/app/server");
    assert.deepEqual(await paths("&recursive=true"), ["/app", "/app/web", "/ops"]);
    const gone = await call("GET", `/api/v3/secrets/raw/DSN?workspaceId=${project.id}&environment=dev&secretPath=/app/server/db`);
    assert.equal(gone.status, 404);
    const again = await call("DELETE", "/api/v1/folders/server", { ...where(), path: "/app" });
    assert.equal(again.status, 404);
    const v2 = await call("DELETE", "/api/v2/folders/web", { projectId: project.id, environment: "dev", directory: "/app" });
    assert.equal(v2.status, 200);
  });

  test("the SDK's list call shape works (recursive as a boolean string, no path)", async () => {
    const r = await call("GET", `/api/v1/folders?environment=dev&workspaceId=${project.id}&recursive=true`);
    assert.equal(r.status, 200);
    assert.ok(r.body.folders.length >= 1);
    const outsiderList = await call("GET", `/api/v1/folders?environment=dev&workspaceId=${project.id}`, undefined, outsider);
    assert.equal(outsiderList.status, 403);
  });
});

describe("folders on PostgreSQL: concurrent creates under missing parents", () => {
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

  test("siblings created at once all succeed and share the parents created on the way", async (t) => {
    if (!s) return t.skip("postgres unavailable");
    const srv = s;
    const call = (method: string, path: string, body?: unknown) => api(srv.address, method, path, { token: srv.adminToken, body });
    const project = (await call("POST", "/api/v1/projects", { projectName: "folders-race", slug: "folders-race" })).body.project;
    const names = ["a", "b", "c", "d", "e", "f"];
    const created = await Promise.all(names.map((name) => call("POST", "/api/v1/folders", { workspaceId: project.id, environment: "dev", path: "/deep/er", name })));
    assert.deepEqual(created.map((r) => r.status), names.map(() => 200), created.map((r) => r.text).join("\n"));
    const all = (await call("GET", `/api/v1/folders?workspaceId=${project.id}&environment=dev&recursive=true`)).body.folders;
    assert.deepEqual(all.map((f: any) => f.path), ["/deep", "/deep/er", ...names.map((n) => `/deep/er/${n}`)]);
    const er = all.find((f: any) => f.path === "/deep/er");
    assert.ok(created.every((r) => r.body.folder.parentId === er.id), "every sibling hangs under the one /deep/er");
    // The folder itself is still refused when it exists.
    const again = await call("POST", "/api/v1/folders", { workspaceId: project.id, environment: "dev", path: "/deep/er", name: "a" });
    assert.equal(again.status, 400);
    assert.match(again.body.message, /already exists/);
  });
});
