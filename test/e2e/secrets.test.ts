import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";

/** The fields of a secret object, exactly (api.md 4.1). */
const SECRET_FIELDS = [
  "id", "_id", "workspace", "environment", "version", "type", "secretKey", "secretValue", "secretValueHidden", "secretComment",
  "secretPath", "secretReminderNote", "secretReminderRepeatDays", "skipMultilineEncoding", "metadata", "secretMetadata", "tags",
  "isRotatedSecret", "rotationId", "createdAt", "updatedAt",
];

/** Servers sharing one PostgreSQL database must share the root key too. */
const sharedKey = randomBytes(32).toString("base64");

/** The secrets suite, run once on embedded SQLite and once on a fresh PostgreSQL database. */
const suite = (backend: "sqlite" | "postgres") =>
  describe(`secrets on the v3 and v4 routes (${backend})`, () => {
    let s: TestServer;
    let pg: ReturnType<typeof createPgDatabase> | undefined;
    let skip = false;
    let project: { id: string; slug: string };
    let other: { id: string; slug: string };
    let member = "";
    let viewer = "";
    let outsider = "";

    const call = (method: string, path: string, body?: unknown, token = member) => api(s.address, method, path, { token, body });
    const v3 = (name: string, body: Record<string, unknown> = {}, method = "POST", token = member) =>
      call(method, `/api/v3/secrets/raw/${name}`, { workspaceId: project.id, environment: "dev", ...body }, token);
    const list4 = (query: string, token = member) => call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev${query}`, undefined, token);
    const live = (t: TestContext) => (skip ? (t.skip("postgres unavailable"), false) : true);

    before(async (t) => {
      if (backend === "postgres") {
        if (!(await needService(t as any, "postgres"))) { skip = true; return; }
        pg = createPgDatabase();
      }
      s = await startServer({ databaseUrl: pg?.url, env: { KMS_ENCRYPTION_KEY: sharedKey } });
      const mk = async (slug: string) => (await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: slug, slug } })).body.project;
      project = await mk("secrets-main");
      other = await mk("secrets-other");
      const join = async (name: string, projectId: string, role: string) => {
        const c = await createUaIdentity(s, name);
        const m = await api(s.address, "POST", `/api/v1/projects/${projectId}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role, isTemporary: false }] } });
        assert.equal(m.status, 200, m.text);
        return login(s.address, c.clientId, c.clientSecret);
      };
      [member, viewer, outsider] = await Promise.all([join("member", project.id, "member"), join("viewer", project.id, "viewer"), join("outsider", other.id, "admin")]);
    });
    after(async () => {
      await s?.cleanup();
      pg?.drop();
    });

    test("create, get, list, update and delete on v3 raw; objects have exactly the api.md fields", async (t) => {
      if (!live(t)) return;
      const c = await v3("DB_HOST", { secretValue: "  db.internal \n", secretComment: "primary", skipMultilineEncoding: false });
      assert.equal(c.status, 200, c.text);
      assert.deepEqual(Object.keys(c.body.secret), SECRET_FIELDS);
      assert.equal(c.body.secret.secretValue, "db.internal\n", "trimmed, one final newline kept");
      assert.equal(c.body.secret._id, c.body.secret.id);
      assert.equal(c.body.secret.workspace, project.id);
      assert.equal(c.body.secret.version, 1);
      assert.equal(c.body.secret.secretPath, "/");
      assert.equal(c.body.secret.secretComment, "primary");

      const g = await call("GET", `/api/v3/secrets/raw/DB_HOST?workspaceId=${project.id}&environment=dev&secretName=DB_HOST`);
      assert.equal(g.status, 200, g.text);
      assert.deepEqual(Object.keys(g.body.secret), SECRET_FIELDS);
      assert.equal(g.body.secret.secretValue, "db.internal\n");

      const u = await v3("DB_HOST", { secretValue: "a\n  ", secretComment: "changed" }, "PATCH");
      assert.equal(u.status, 200, u.text);
      assert.equal(u.body.secret.secretValue, "a", "spaces after the newline drop it");
      assert.equal(u.body.secret.version, 2);

      const l = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=dev`);
      assert.equal(l.status, 200);
      assert.equal(l.body.imports, undefined, "imports only when asked for");
      assert.deepEqual(l.body.secrets.map((x: any) => [x.secretKey, x.secretValue, x.secretComment]), [["DB_HOST", "a", "changed"]]);

      const d = await call("DELETE", "/api/v3/secrets/raw/DB_HOST", { workspaceId: project.id, environment: "dev" });
      assert.equal(d.status, 200);
      assert.equal(d.body.secret.secretKey, "DB_HOST");
      assert.equal((await call("GET", `/api/v3/secrets/raw/DB_HOST?workspaceId=${project.id}&environment=dev`)).status, 404);
      const again = await call("DELETE", "/api/v3/secrets/raw/DB_HOST", { workspaceId: project.id, environment: "dev" });
      assert.equal(again.status, 404);
      assert.equal(again.body.message, "Secret with name 'DB_HOST' not found");
    });

    test("versions are kept and ?version returns a historical one", async (t) => {
      if (!live(t)) return;
      await v3("VERSIONED", { secretValue: "one", secretComment: "c1" });
      await v3("VERSIONED", { secretValue: "two", secretComment: "c2" }, "PATCH");
      await v3("VERSIONED", { secretValue: "three" }, "PATCH");
      const get = (v: number | string) => call("GET", `/api/v3/secrets/raw/VERSIONED?workspaceId=${project.id}&environment=dev&version=${v}`);
      const v1 = await get(1);
      assert.deepEqual([v1.body.secret.secretValue, v1.body.secret.secretComment, v1.body.secret.version], ["one", "c1", 1]);
      assert.deepEqual([(await get(2)).body.secret.secretValue, (await get(3)).body.secret.secretValue], ["two", "three"]);
      const v4 = await call("GET", `/api/v4/secrets/VERSIONED?projectId=${project.id}&environment=dev&version=2`);
      assert.equal(v4.body.secret.secretComment, "c2");
      assert.equal((await get(9)).status, 404);
      const bad = await get("x");
      assert.equal(bad.status, 422);
      assert.deepEqual(bad.body.message[0].path, ["querystring", "version"]);
    });

    test("project by slug on v3, by id on v4, and lookup by secret id", async (t) => {
      if (!live(t)) return;
      const c = await call("POST", "/api/v3/secrets/raw/BY_SLUG", { projectSlug: project.slug, environment: "dev", secretValue: "s" });
      assert.equal(c.status, 200, c.text);
      const g = await call("GET", `/api/v3/secrets/raw/BY_SLUG?workspaceSlug=${project.slug}&environment=dev`);
      assert.equal(g.body.secret.id, c.body.secret.id);
      const v4 = await call("POST", "/api/v4/secrets/BY_V4", { projectId: project.id, environment: "dev", secretValue: "v" });
      assert.equal(v4.status, 200, v4.text);
      const patched = await call("PATCH", "/api/v4/secrets/BY_V4", { projectId: project.id, environment: "dev", secretValue: "w", newSecretName: "BY_V4_RENAMED" });
      assert.equal(patched.body.secret.secretKey, "BY_V4_RENAMED");
      for (const base of ["/api/v3/secrets/raw", "/api/v4/secrets"]) {
        const byId = await call("GET", `${base}/id/${v4.body.secret.id}`);
        assert.equal(byId.status, 200, byId.text);
        assert.equal(byId.body.secret.secretValue, "w");
        assert.equal((await call("GET", `${base}/id/00000000-0000-4000-8000-000000000000`)).status, 404);
      }
      assert.equal((await call("DELETE", "/api/v4/secrets/BY_V4_RENAMED", { projectId: project.id, environment: "dev" })).status, 200);
      assert.equal((await call("DELETE", "/api/v4/secrets/BY_V4_RENAMED/", { projectId: project.id, environment: "dev" })).status, 404, "trailing slash is the same route");
    });

    test("v4 defaults expand references and include imports; viewSecretValue=false hides values", async (t) => {
      if (!live(t)) return;
      await v3("BASE", { environment: "staging", secretValue: "base" });
      await v3("REF", { environment: "staging", secretValue: "${BASE}-x" });
      const q = `/api/v4/secrets?projectId=${project.id}&environment=staging`;
      const d = await call("GET", q);
      assert.deepEqual(d.body.secrets.map((x: any) => x.secretValue), ["base", "base-x"]);
      assert.deepEqual(d.body.imports, []);
      const raw = await call("GET", `${q}&expandSecretReferences=false&includeImports=false&includePersonalOverrides=false`);
      assert.deepEqual(raw.body.secrets.map((x: any) => x.secretValue), ["base", "${BASE}-x"]);
      assert.equal(raw.body.imports, undefined);
      const v3raw = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=staging`);
      assert.deepEqual(v3raw.body.secrets.map((x: any) => x.secretValue), ["base", "${BASE}-x"], "v3 does not expand by default");
      const hidden = await call("GET", `${q}&viewSecretValue=FALSE`);
      assert.deepEqual(hidden.body.secrets.map((x: any) => [x.secretValue, x.secretValueHidden]), [["<hidden-by-infisical>", true], ["<hidden-by-infisical>", true]]);
      const one = await call("GET", `/api/v3/secrets/raw/REF?workspaceId=${project.id}&environment=staging&viewSecretValue=false`);
      assert.equal(one.body.secret.secretValue, "<hidden-by-infisical>");
    });

    test("recursive listing carries each secret's own path", async (t) => {
      if (!live(t)) return;
      const f = await call("POST", "/api/v1/folders", { workspaceId: project.id, environment: "prod", name: "db", path: "/app" });
      assert.equal(f.status, 200, f.text);
      await v3("TOP", { environment: "prod", secretValue: "1" });
      await v3("MID", { environment: "prod", secretPath: "/app", secretValue: "2" });
      await v3("LEAF", { environment: "prod", secretPath: "/app/db/", secretValue: "3" });
      const base = `/api/v3/secrets/raw?workspaceId=${project.id}&environment=prod`;
      const all = await call("GET", `${base}&recursive=true`);
      assert.deepEqual(all.body.secrets.map((x: any) => `${x.secretPath}:${x.secretKey}`), ["/:TOP", "/app:MID", "/app/db:LEAF"]);
      const sub = await call("GET", `${base}&recursive=true&secretPath=/app`);
      assert.deepEqual(sub.body.secrets.map((x: any) => `${x.secretPath}:${x.secretKey}`), ["/app:MID", "/app/db:LEAF"]);
      const flat = await call("GET", `${base}&secretPath=%2Fapp%2Fdb`);
      assert.deepEqual(flat.body.secrets.map((x: any) => x.secretKey), ["LEAF"]);
      const none = await call("GET", `${base}&secretPath=/nowhere&include_imports=true`);
      assert.deepEqual(none.body, { secrets: [], imports: [] }, "an unknown folder lists nothing");
      const write = await v3("X", { environment: "prod", secretPath: "/nowhere", secretValue: "1" });
      assert.equal(write.status, 404);
      assert.equal(write.body.message, "Folder with path '/nowhere' in environment with slug 'prod' not found");
    });

    test("tags: created per project, attached by id, filtered by slug", async (t) => {
      if (!live(t)) return;
      const tag = await call("POST", `/api/v1/projects/${project.id}/tags`, { slug: "backend", color: "#00ff00" });
      assert.equal(tag.status, 200, tag.text);
      const bySlug = await call("GET", `/api/v1/projects/${project.id}/tags/slug/backend`);
      assert.equal(bySlug.body.tag.id, tag.body.tag.id);
      assert.equal((await call("POST", `/api/v1/projects/${project.id}/tags`, { slug: "backend" })).status, 400, "duplicate slug");
      const tagged = await v3("TAGGED", { environment: "staging", secretValue: "t", tagIds: [tag.body.tag.id] });
      assert.deepEqual(tagged.body.secret.tags, [{ id: tag.body.tag.id, slug: "backend", name: "backend", color: "#00ff00" }]);
      const unknown = await v3("TAGGED2", { environment: "staging", secretValue: "t", tagIds: ["nope"] });
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.message, /^tagIds: tag nope not found/);
      const filtered = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=staging&tagSlugs=backend,other`);
      assert.deepEqual(filtered.body.secrets.map((x: any) => x.secretKey), ["TAGGED"]);
      const cleared = await v3("TAGGED", { environment: "staging", tagIds: [] }, "PATCH");
      assert.deepEqual(cleared.body.secret.tags, []);
      assert.equal((await call("GET", `/api/v1/projects/${project.id}/tags`, undefined, viewer)).body.workspaceTags.length, 1);
      await v3("TAGGED", { environment: "staging", tagIds: [tag.body.tag.id] }, "PATCH");
      assert.equal((await call("DELETE", `/api/v1/projects/${project.id}/tags/${tag.body.tag.id}`, undefined, viewer)).status, 403);
      assert.equal((await call("DELETE", `/api/v1/projects/${project.id}/tags/${tag.body.tag.id}`)).status, 200);
      const untagged = await call("GET", `/api/v3/secrets/raw/TAGGED?workspaceId=${project.id}&environment=staging`);
      assert.deepEqual(untagged.body.secret.tags, [], "a deleted tag disappears from its secrets");
      assert.deepEqual((await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=staging&tagSlugs=backend`)).body.secrets, []);
    });

    test("metadata round-trips encrypted and filters", async (t) => {
      if (!live(t)) return;
      const c = await v3("META", { environment: "staging", secretValue: "m", secretMetadata: [{ key: "team", value: "db" }, { key: "pin", value: "1234", isEncrypted: true }] });
      assert.deepEqual(c.body.secret.secretMetadata, [{ key: "team", value: "db", isEncrypted: false }, { key: "pin", value: "1234", isEncrypted: true }]);
      const u = await v3("META", { environment: "staging", metadata: { owner: "ops" } }, "PATCH");
      assert.deepEqual(u.body.secret.metadata, { owner: "ops" });
      assert.equal(u.body.secret.secretMetadata.length, 2, "secretMetadata kept when only the legacy map changes");
      const base = `/api/v3/secrets/raw?workspaceId=${project.id}&environment=staging&metadataFilter=`;
      assert.deepEqual((await call("GET", `${base}key=team,value=db`)).body.secrets.map((x: any) => x.secretKey), ["META"]);
      assert.deepEqual((await call("GET", `${base}key=pin,value=1234`)).body.secrets, [], "encrypted metadata is not filterable");
      assert.equal((await call("GET", `${base}team=db`)).status, 400);
    });

    test("bad input: names, types, paths, environments, selectors, body size", async (t) => {
      if (!live(t)) return;
      const spaced = await v3("BAD%20NAME", { secretValue: "x" });
      assert.equal(spaced.status, 422);
      assert.deepEqual(spaced.body.message[0].path, ["params", "secretName"]);
      const renamed = await v3("META", { environment: "staging", newSecretName: "A B" }, "PATCH");
      assert.equal(renamed.status, 422);
      assert.deepEqual(renamed.body.message[0].path, ["body", "newSecretName"]);
      const num = await v3("NUM", { secretValue: 42 });
      assert.equal(num.status, 422);
      assert.equal(num.body.error, "ValidationFailure");
      assert.deepEqual(num.body.message.map((i: any) => i.path), [["body", "secretValue"]]);
      assert.equal((await v3("NUM", { secretValue: "1", tagIds: "x" })).status, 422);
      const flag = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=dev&recursive=yes`);
      assert.equal(flag.status, 422);
      assert.deepEqual(flag.body.message[0].path, ["querystring", "recursive"]);
      for (const p of ["/a/../b", "//", "/./x", "../etc"]) {
        const r = await v3("TRAVERSAL", { secretPath: p, secretValue: "x" });
        assert.equal(r.status, 400, p);
        assert.match(r.body.message, /^secretPath: /);
      }
      const trav = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev&secretPath=%2Fa%2F..%2F..%2Fb`);
      assert.equal(trav.status, 400);
      const env = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=nope`);
      assert.equal(env.status, 404);
      assert.equal(env.body.message, `Environment with slug 'nope' in project with ID ${project.id} not found`);
      const noEnv = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}`);
      assert.deepEqual([noEnv.status, noEnv.body.message], [400, "Missing project id or environment"]);
      const noProject = await call("GET", "/api/v4/secrets?environment=dev");
      assert.deepEqual([noProject.status, noProject.body.message], [400, "Missing project id or environment"]);
      const noProjectGet = await call("GET", "/api/v4/secrets/X?environment=dev");
      assert.equal(noProjectGet.status, 422);
      assert.deepEqual(noProjectGet.body.message[0].path, ["querystring", "projectId"]);
      const noProjectWrite = await call("POST", "/api/v4/secrets/X", { environment: "dev", secretValue: "x" });
      assert.equal(noProjectWrite.status, 422);
      assert.deepEqual(noProjectWrite.body.message[0].path, ["body", "projectId"]);
      const personal = await v3("MINE", { secretValue: "x", type: "personal" });
      assert.equal(personal.status, 400);
      assert.match(personal.body.message, /^type: /);
      const dup = await v3("DUP", { secretValue: "1" });
      assert.equal(dup.status, 200);
      assert.deepEqual([(await v3("DUP", { secretValue: "2" })).status, (await v3("DUP", { secretValue: "2" })).body.message], [400, "Secret already exists"]);
      assert.equal((await v3("MISSING", { secretValue: "1" }, "PATCH")).status, 404);
      const big = await v3("BIG", { secretValue: "x".repeat(1024 * 1024 + 10) });
      assert.equal(big.status, 413);
      assert.equal((await call("GET", `/api/v3/secrets/raw/BIG?workspaceId=${project.id}&environment=dev`)).status, 404, "nothing written");
    });

    test("concurrent writes: one create wins, every update gets its own version", async (t) => {
      if (!live(t)) return;
      const creates = await Promise.all(Array.from({ length: 6 }, (_, i) => v3("RACE", { secretValue: `v${i}` })));
      assert.equal(creates.filter((r) => r.status === 200).length, 1, creates.map((r) => r.text).join("\n"));
      assert.ok(creates.every((r) => r.status === 200 || r.status === 400));
      const updates = await Promise.all(Array.from({ length: 6 }, (_, i) => v3("RACE", { secretValue: `u${i}` }, "PATCH")));
      const ok = updates.filter((r) => r.status === 200).map((r) => r.body.secret.version);
      assert.ok(ok.length >= 1);
      assert.equal(new Set(ok).size, ok.length, "no two updates claimed the same version");
      const latest = await call("GET", `/api/v3/secrets/raw/RACE?workspaceId=${project.id}&environment=dev`);
      assert.equal(latest.body.secret.version, 1 + ok.length);
    });

    test("writes racing the deletion of their folder answer 404, never 500", async (t) => {
      if (!live(t)) return;
      const statuses = new Set<number>();
      for (let i = 0; i < 25; i++) {
        const name = `race${i}`;
        const where = { workspaceId: project.id, environment: "staging" };
        assert.equal((await call("POST", "/api/v1/folders", { ...where, name })).status, 200);
        assert.equal((await v3("OLD", { environment: "staging", secretPath: `/${name}`, secretValue: "v" })).status, 200);
        const rs = await Promise.all([
          call("DELETE", `/api/v1/folders/${name}`, where),
          v3("NEW", { environment: "staging", secretPath: `/${name}`, secretValue: "v" }),
          v3("OLD", { environment: "staging", secretPath: `/${name}`, secretValue: "w" }, "PATCH"),
          call("POST", "/api/v2/secret-imports", { projectId: project.id, environment: "staging", path: `/${name}`, import: { environment: "prod", path: "/" } }),
          call("POST", "/api/v1/folders", { ...where, path: `/${name}/sub`, name: "leaf" }),
        ]);
        assert.equal(rs[0]!.status, 200, rs[0]!.text);
        for (const r of rs.slice(1)) {
          assert.ok(r.status === 200 || r.status === 404, r.text);
          if (r.status === 404) assert.match(r.body.message, /not found/);
          statuses.add(r.status);
        }
      }
      t.diagnostic(`statuses seen: ${[...statuses].join(", ")}`);
    });

    test("ETag of the v4 list changes if and only if the result changes", async (t) => {
      if (!live(t)) return;
      await call("POST", "/api/v1/folders", { workspaceId: project.id, environment: "dev", name: "etag" });
      await v3("E1", { secretPath: "/etag", secretValue: "one" });
      await v3("E2", { secretPath: "/etag", secretValue: "${E1}!" });
      const q = "&secretPath=%2Fetag&expandSecretReferences=true&includeImports=true&recursive=false";
      const first = await list4(q);
      const etag = first.headers.get("etag");
      assert.match(etag ?? "", /^"[^"]+"$/);
      assert.equal((await list4(q)).headers.get("etag"), etag, "same result, same ETag");
      await v3("UNRELATED", { secretValue: "x" });
      assert.equal((await list4(q)).headers.get("etag"), etag, "a write elsewhere does not change this result");
      const cached = await api(s.address, "GET", `/api/v4/secrets?projectId=${project.id}&environment=dev${q}`, { token: member, headers: { "if-none-match": etag! } });
      assert.equal(cached.status, 304);
      assert.equal(cached.text, "");
      await v3("E1", { secretPath: "/etag", secretValue: "uno" }, "PATCH");
      const changed = await list4(q);
      assert.notEqual(changed.headers.get("etag"), etag, "an update changes the ETag");
      assert.deepEqual(changed.body.secrets.map((x: any) => x.secretValue), ["uno", "uno!"], "including values reached through references");
      // Right after a write, concurrent readers share one rebuild and all see the new answer.
      await v3("E1", { secretPath: "/etag", secretValue: "eins" }, "PATCH");
      const burst = await Promise.all(Array.from({ length: 8 }, () => list4(q)));
      assert.equal(new Set(burst.map((r) => r.headers.get("etag"))).size, 1);
      assert.deepEqual(burst[0]!.body.secrets.map((x: any) => x.secretValue), ["eins", "eins!"]);
      const one = await call("GET", `/api/v4/secrets/E2?projectId=${project.id}&environment=dev&secretPath=/etag&type=shared`);
      assert.match(one.headers.get("etag") ?? "", /^"/);
    });

    test("roles and isolation: viewer reads only, another project's identity reaches nothing", async (t) => {
      if (!live(t)) return;
      const c = await v3("ISOLATED", { secretValue: "private" });
      assert.equal((await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev`, undefined, viewer)).status, 200);
      assert.equal((await v3("BY_VIEWER", { secretValue: "x" }, "POST", viewer)).status, 403);
      assert.equal((await v3("ISOLATED", { secretValue: "x" }, "PATCH", viewer)).status, 403);
      const attempts = [
        call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev`, undefined, outsider),
        call("GET", `/api/v3/secrets/raw?workspaceSlug=${project.slug}&environment=dev`, undefined, outsider),
        call("GET", `/api/v4/secrets/ISOLATED?projectId=${project.id}&environment=dev`, undefined, outsider),
        call("GET", `/api/v3/secrets/raw/id/${c.body.secret.id}`, undefined, outsider),
        v3("ISOLATED", { secretValue: "x" }, "PATCH", outsider),
        v3("ISOLATED", {}, "DELETE", outsider),
        call("GET", `/api/v1/folders?workspaceId=${project.id}&environment=dev`, undefined, outsider),
        call("GET", `/api/v2/secret-imports?projectId=${project.id}&environment=dev`, undefined, outsider),
        call("GET", `/api/v1/projects/${project.id}/tags`, undefined, outsider),
      ];
      for (const r of await Promise.all(attempts)) {
        assert.equal(r.status, 403, r.text);
        assert.ok(!r.text.includes("private"));
      }
      // The outsider may import into its own project, but environments resolve inside that project only.
      const own = await call("GET", `/api/v4/secrets?projectId=${other.id}&environment=dev`, undefined, outsider);
      assert.deepEqual(own.body.secrets, []);
    });

    test("every mutation is audited, never with a value", async (t) => {
      if (!live(t)) return;
      await v3("AUDITED", { secretValue: "audit-marker-value", secretComment: "audit-marker-comment" });
      await v3("AUDITED", { secretValue: "audit-marker-value-2" }, "PATCH");
      await v3("AUDITED", {}, "DELETE");
      const log = await api(s.address, "GET", `/api/v1/projects/${project.id}/audit-logs?limit=500`, { token: s.adminToken });
      const actions = log.body.auditLogs.filter((e: any) => e.metadata.secretKey === "AUDITED").map((e: any) => e.action);
      assert.deepEqual(actions.sort(), ["create-secret", "delete-secret", "update-secret"]);
      assert.ok(!log.text.includes("audit-marker"));
      assert.ok(!s.output().includes("audit-marker"), "nor in the server log");
    });

    test("two servers sharing one PostgreSQL database never serve a stale cached list", async (t) => {
      if (!live(t)) return;
      if (backend !== "postgres") return t.skip("one SQLite file belongs to one server");
      const peer = await startServer({ databaseUrl: pg!.url, bootstrap: false, env: { KMS_ENCRYPTION_KEY: sharedKey } });
      try {
        await v3("SHARED_DB", { secretValue: "one" });
        const read = () => api(peer.address, "GET", `/api/v4/secrets/SHARED_DB?projectId=${project.id}&environment=dev`, { token: member });
        const list = () => api(peer.address, "GET", `/api/v4/secrets?projectId=${project.id}&environment=dev`, { token: member });
        const first = await list();
        assert.equal(first.body.secrets.find((x: any) => x.secretKey === "SHARED_DB").secretValue, "one");
        assert.equal((await list()).headers.get("etag"), first.headers.get("etag"), "cached on the peer");
        await v3("SHARED_DB", { secretValue: "two" }, "PATCH");
        const second = await list();
        assert.equal(second.body.secrets.find((x: any) => x.secretKey === "SHARED_DB").secretValue, "two", "the peer sees a write made elsewhere");
        assert.notEqual(second.headers.get("etag"), first.headers.get("etag"));
        assert.equal((await read()).body.secret.secretValue, "two");
      } finally {
        await peer.cleanup();
      }
    });
  });

suite("sqlite");
suite("postgres");
