import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";

// Deleting a project, an environment or a folder cascades in the database; with dynamic secrets inside,
// that would forget leases whose database users still exist. Such deletes are refused until the dynamic
// secrets (and so their leases) are gone.
describe("deleting what holds dynamic secrets", () => {
  let s: TestServer;
  let projectId = "";
  let envId = "";
  let ready = false;
  const prefix = `kms_del_${Math.random().toString(36).slice(2, 8)}`;

  before(async (t) => {
    if (!(await needService(t as never, "postgres"))) return;
    s = await startServer();
    const p = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "dyn-delete", slug: "dyn-delete" } });
    projectId = p.body.project.id;
    envId = p.body.project.environments.find((e: { slug: string }) => e.slug === "dev").id;
    const f = await api(s.address, "POST", "/api/v1/folders", { token: s.adminToken, body: { workspaceId: projectId, environment: "dev", name: "app_db", path: "/" } });
    assert.equal(f.status, 200, f.text);
    const ds = await api(s.address, "POST", "/api/v1/dynamic-secrets", { token: s.adminToken, body: {
      projectSlug: "dyn-delete", environmentSlug: "dev", path: "/app_db", name: "pg", defaultTTL: "1h",
      provider: { type: "sql-database", inputs: {
        client: "postgres", host: "127.0.0.1", port: 5432, database: "postgres", username: "postgres", password: "unused",
        creationStatement: `CREATE ROLE "${prefix}_{{username}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
        revocationStatement: `DROP ROLE IF EXISTS "${prefix}_{{username}}";`,
      } },
    } });
    assert.equal(ds.status, 200, ds.text);
    const lease = await api(s.address, "POST", "/api/v1/dynamic-secrets/leases", { token: s.adminToken, body: { dynamicSecretName: "pg", projectSlug: "dyn-delete", environmentSlug: "dev", path: "/app_db" } });
    assert.equal(lease.status, 200, lease.text);
    ready = true;
  });
  after(async () => {
    await s?.cleanup();
    try {
      execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-qtAc", `SELECT 'DROP ROLE "' || rolname || '";' FROM pg_roles WHERE rolname LIKE '${prefix}%'`], { encoding: "utf8" })
        .split("\n").filter(Boolean).forEach((sql) => execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-qc", sql]));
    } catch { /* nothing to clean */ }
  });

  test("folder, environment and project deletes are refused with a clear message; after the dynamic secret is deleted they work", async (t) => {
    if (!ready) return t.skip("postgres unavailable");
    const folder = await api(s.address, "DELETE", "/api/v1/folders/app_db", { token: s.adminToken, body: { workspaceId: projectId, environment: "dev", path: "/" } });
    assert.equal(folder.status, 400, folder.text);
    assert.match(folder.body.message, /holds 1 dynamic secret/);
    const env = await api(s.address, "DELETE", `/api/v1/projects/${projectId}/environments/${envId}`, { token: s.adminToken });
    assert.equal(env.status, 400, env.text);
    const project = await api(s.address, "DELETE", `/api/v1/projects/${projectId}`, { token: s.adminToken });
    assert.equal(project.status, 400, project.text);
    assert.match(project.body.message, /leases are revoked|leases/);
    const roles = () => execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-qtAc", `SELECT count(*) FROM pg_roles WHERE rolname LIKE '${prefix}%'`], { encoding: "utf8" }).trim();
    assert.equal(roles(), "1", "the leased role still exists and is still tracked");

    const del = await api(s.address, "DELETE", "/api/v1/dynamic-secrets/pg", { token: s.adminToken, body: { projectSlug: "dyn-delete", environmentSlug: "dev", path: "/app_db" } });
    assert.equal(del.status, 200, del.text);
    assert.equal(roles(), "0", "deleting the dynamic secret revoked its lease at the target");
    assert.equal((await api(s.address, "DELETE", "/api/v1/folders/app_db", { token: s.adminToken, body: { workspaceId: projectId, environment: "dev", path: "/" } })).status, 200);
    assert.equal((await api(s.address, "DELETE", `/api/v1/projects/${projectId}`, { token: s.adminToken })).status, 200);
  });
});
