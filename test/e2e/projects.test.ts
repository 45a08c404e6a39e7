import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";

describe("projects, environments, memberships and roles", () => {
  let s: TestServer;
  let a: { id: string; slug: string };
  let b: { id: string; slug: string };
  const tokens: Record<string, string> = {};

  before(async () => {
    s = await startServer();
    const mk = async (name: string, slug: string) => (await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: name, slug, type: "secret-manager" } })).body.project;
    a = await mk("Project A", "project-a");
    b = await mk("Project B", "project-b");
    for (const [name, project, role] of [["a-admin", a, "admin"], ["a-member", a, "member"], ["a-viewer", a, "viewer"], ["b-admin", b, "admin"]] as const) {
      const c = await createUaIdentity(s, name);
      const m = await api(s.address, "POST", `/api/v1/projects/${project.id}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role, isTemporary: false }] } });
      assert.equal(m.status, 200, m.text);
      tokens[name] = await login(s.address, c.clientId, c.clientSecret);
    }
  });
  after(() => s.cleanup());

  test("a project has the default environments and is found by slug (bare) and id (wrapped)", async () => {
    const bySlug = await api(s.address, "GET", "/api/v1/projects/slug/project-a", { token: tokens["a-viewer"] });
    assert.equal(bySlug.status, 200);
    assert.equal(bySlug.body.id, a.id);
    assert.deepEqual(bySlug.body.environments.map((e: { slug: string }) => e.slug), ["dev", "staging", "prod"]);
    const byId = await api(s.address, "GET", `/api/v1/workspace/${a.id}`, { token: tokens["a-viewer"] });
    assert.equal(byId.body.workspace.slug, "project-a");
  });

  test("an identity of project A reads nothing of project B", async () => {
    for (const [method, path] of [
      ["GET", `/api/v1/projects/${b.id}`], ["GET", "/api/v1/projects/slug/project-b"], ["GET", `/api/v1/projects/${b.id}/environments/slug/dev`],
      ["GET", `/api/v1/projects/${b.id}/memberships/identities`], ["GET", `/api/v1/projects/${b.id}/audit-logs`],
    ] as const) {
      const r = await api(s.address, method, path, { token: tokens["a-admin"] });
      assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
      assert.equal(r.body.error, "PermissionDenied");
    }
    const list = await api(s.address, "GET", "/api/v1/projects", { token: tokens["a-admin"] });
    assert.deepEqual(list.body.projects.map((p: { slug: string }) => p.slug), ["project-a"]);
  });

  test("roles: viewer reads, only admin manages environments and memberships", async () => {
    const env = { name: "QA", slug: "qa" };
    assert.equal((await api(s.address, "POST", `/api/v1/projects/${a.id}/environments`, { token: tokens["a-viewer"], body: env })).status, 403);
    assert.equal((await api(s.address, "POST", `/api/v1/projects/${a.id}/environments`, { token: tokens["a-member"], body: env })).status, 403);
    const ok = await api(s.address, "POST", `/api/v1/workspace/${a.id}/environments`, { token: tokens["a-admin"], body: { ...env, projectId: a.id } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.workspace, a.id);
    assert.equal(ok.body.environment.slug, "qa");
    assert.equal((await api(s.address, "POST", `/api/v1/projects/${a.id}/environments`, { token: tokens["a-admin"], body: env })).status, 400, "duplicate slug");
    const missing = await api(s.address, "GET", `/api/v1/projects/${a.id}/environments/slug/nope`, { token: tokens["a-viewer"] });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.message, `Environment with slug 'nope' in project with ID ${a.id} not found`);
    const members = await api(s.address, "GET", `/api/v1/projects/${a.id}/memberships/identities`, { token: tokens["a-admin"] });
    assert.equal(members.body.totalCount, 4, "three identities plus the creating admin");
  });

  test("temporary access holds the role from its start for its range, then ends by itself; bad windows and several roles are refused", async () => {
    const c = await createUaIdentity(s, "temporary-member");
    const token = await login(s.address, c.clientId, c.clientSecret);
    const path = `/api/v1/projects/${a.id}/memberships/identities/${c.identityId}`;
    const temporary = (range: string, start: Date | string) => ({ roles: [{ role: "member", isTemporary: true, temporaryMode: "relative", temporaryRange: range,
      temporaryAccessStartTime: typeof start === "string" ? start : start.toISOString() }] });
    for (const [body, message] of [
      [temporary("abc", new Date()), /roles\[0\]\.temporaryRange/],
      [temporary("2s", "notadate"), /roles\[0\]\.temporaryAccessStartTime: "notadate" is not an ISO date/],
      [{ roles: [{ role: "member", isTemporary: true, temporaryMode: "absolute", temporaryRange: "1h", temporaryAccessStartTime: new Date().toISOString() }] }, /temporaryMode: must be "relative"/],
      [{ roles: [{ role: "member" }, { role: "viewer" }] }, /one role per membership/],
    ] as const) {
      const r = await api(s.address, "POST", path, { token: s.adminToken, body });
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.message, message);
    }
    assert.equal((await api(s.address, "GET", path, { token: s.adminToken })).status, 404, "no membership was created");

    // Not started yet: no access.
    const later = await api(s.address, "POST", path, { token: s.adminToken, body: temporary("1h", new Date(Date.now() + 3_600_000)) });
    assert.equal(later.status, 200, later.text);
    assert.equal((await api(s.address, "GET", `/api/v1/projects/${a.id}/environments/slug/qa`, { token })).status, 403);
    // Started, for three seconds.
    const start = new Date();
    const now = await api(s.address, "PATCH", path, { token: s.adminToken, body: temporary("3s", start) });
    assert.equal(now.status, 200, now.text);
    const role = now.body.identityMembership?.roles?.[0] ?? now.body.roles?.[0];
    assert.equal(role.isTemporary, true, now.text);
    assert.equal(role.temporaryRange, "3s");
    assert.equal(role.temporaryAccessEndTime, new Date(+start + 3000).toISOString());
    assert.equal((await api(s.address, "GET", `/api/v1/projects/${a.id}/environments/slug/qa`, { token })).status, 200, "within the window");
    assert.ok((await api(s.address, "GET", "/api/v1/projects", { token })).body.projects.some((p: { id: string }) => p.id === a.id));
    await new Promise((r) => setTimeout(r, Math.max(0, +start + 3200 - Date.now())));
    assert.equal((await api(s.address, "GET", `/api/v1/projects/${a.id}/environments/slug/qa`, { token })).status, 403, "ended by itself");
    assert.ok(!(await api(s.address, "GET", "/api/v1/projects", { token })).body.projects.some((p: { id: string }) => p.id === a.id), "and no longer listed");
    // Made permanent again.
    assert.equal((await api(s.address, "PATCH", path, { token: s.adminToken, body: { roles: [{ role: "viewer", isTemporary: false }] } })).status, 200);
    assert.equal((await api(s.address, "GET", `/api/v1/projects/${a.id}/environments/slug/qa`, { token })).status, 200);
  });

  test("organization members create projects and become their admin; no-access identities cannot", async () => {
    const denied = await api(s.address, "POST", "/api/v2/workspace", { token: tokens["a-admin"], body: { projectName: "Made by A", type: "cert-manager" } });
    assert.equal(denied.status, 403, "a-admin has the org role no-access");
    const c = await createUaIdentity(s, "org-member", { role: "member" });
    const token = await login(s.address, c.clientId, c.clientSecret);
    const created = await api(s.address, "POST", "/api/v2/workspace", { token, body: { projectName: "Made by member", type: "cert-manager" } });
    assert.equal(created.status, 200);
    assert.equal(created.body.project.type, "cert-manager");
    const env = await api(s.address, "POST", `/api/v1/projects/${created.body.project.id}/environments`, { token, body: { name: "QA", slug: "qa" } });
    assert.equal(env.status, 200, "the creator is the project's admin");
  });

  test("401, 403 and 404 are distinct and errors carry reqId, statusCode, message, error", async () => {
    const none = await api(s.address, "GET", "/api/v1/projects");
    assert.equal(none.status, 401);
    assert.match(none.body.reqId, /^req-/);
    assert.equal(none.body.error, "UnauthorizedError");
    const bad = await api(s.address, "GET", "/api/v1/projects", { token: "kmsat.nope.nope" });
    assert.equal(bad.status, 401);
    const missing = await api(s.address, "GET", "/api/v1/projects/00000000-0000-4000-8000-000000000000", { token: s.adminToken });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, "NotFound");
    const route = await api(s.address, "GET", "/api/v1/nothing-here", { token: s.adminToken });
    assert.equal(route.status, 404);
  });

  test("wrong types are refused, not coerced; unknown fields are ignored", async () => {
    const r = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: 42 } });
    assert.equal(r.status, 422);
    assert.deepEqual(r.body.message[0].path, ["body", "projectName"]);
    const ok = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "Extra", slug: "extra-fields", kmsKeyId: "x", whatever: true } });
    assert.equal(ok.status, 200);
    const slug = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "Bad", slug: "Bad Slug!" } });
    assert.equal(slug.status, 400);
    assert.match(slug.body.message, /slug/);
  });

  test("malformed JSON is a 400, an empty JSON body is {}, bodies over 1 MiB are refused", async () => {
    const res = await fetch(`${s.address}/api/v1/projects`, { method: "POST", headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" }, body: "{nope" });
    assert.equal(res.status, 400);
    const empty = await fetch(`${s.address}/api/v1/projects`, { method: "POST", headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" }, body: "" });
    assert.equal(empty.status, 422, "{} lacks projectName");
    const big = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "x".repeat(1024 * 1024 + 10) } });
    assert.equal(big.status, 413);
    const text = big.text + (await res.text());
    assert.ok(!/at .*\.ts:\d+/.test(text), "no stack traces on the wire");
  });

  test("a failed request changes nothing", async () => {
    const before = (await api(s.address, "GET", "/api/v1/projects", { token: s.adminToken })).body.projects.length;
    const dup = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "Dup", slug: "project-a" } });
    assert.equal(dup.status, 400);
    const after = (await api(s.address, "GET", "/api/v1/projects", { token: s.adminToken })).body.projects.length;
    assert.equal(after, before);
  });

  test("every JSON GET carries an ETag and honours If-None-Match", async () => {
    const r = await api(s.address, "GET", `/api/v1/projects/${a.id}`, { token: s.adminToken });
    const etag = r.headers.get("etag");
    assert.match(etag ?? "", /^"[A-Za-z0-9_-]+"$/);
    const again = await api(s.address, "GET", `/api/v1/projects/${a.id}`, { token: s.adminToken, headers: { "if-none-match": etag! } });
    assert.equal(again.status, 304);
    await api(s.address, "PATCH", `/api/v1/projects/${a.id}`, { token: s.adminToken, body: { description: "changed" } });
    const changed = await api(s.address, "GET", `/api/v1/projects/${a.id}`, { token: s.adminToken, headers: { "if-none-match": etag! } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get("etag"), etag);
  });

  test("the audit log records auth events and mutations, never a token or secret", async () => {
    const r = await api(s.address, "GET", `/api/v1/projects/${a.id}/audit-logs?limit=100`, { token: tokens["a-admin"] });
    assert.equal(r.status, 200);
    const actions = r.body.auditLogs.map((l: { action: string }) => l.action);
    for (const a of ["create-project", "add-identity-membership", "create-environment"]) assert.ok(actions.includes(a), `${a} in ${actions}`);
    assert.equal((await api(s.address, "GET", `/api/v1/projects/${a.id}/audit-logs`, { token: tokens["a-member"] })).status, 403);
    const org = await api(s.address, "GET", "/api/v1/organization/audit-logs?limit=500", { token: s.adminToken });
    const orgActions = org.body.auditLogs.map((l: { action: string }) => l.action);
    for (const a of ["universal-auth-login", "create-client-secret"]) assert.ok(orgActions.includes(a), `${a} in org log: ${orgActions}`);
    for (const t of Object.values(tokens)) {
      const secretPart = t.split(".").pop()!;
      assert.ok(!org.text.includes(secretPart) && !r.text.includes(secretPart), "no token in the audit log");
      assert.ok(!s.output().includes(secretPart), "no token in the server log");
    }
  });
});

describe("server process", () => {
  test("SIGTERM shuts down cleanly with exit code 0", async () => {
    const s = await startServer({ bootstrap: false });
    assert.equal((await api(s.address, "GET", "/api/status")).status, 200);
    assert.equal(await s.stop(), 0);
    await s.cleanup();
  });
});
