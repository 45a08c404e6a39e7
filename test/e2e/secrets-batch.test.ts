import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InfisicalSDK } from "@infisical/sdk";
import { createSecretEventsClient, type ServerSentEvent } from "../../src/client/secret-events.js";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";

/** The fields of a secret object, exactly (api.md 4.1): the batch routes answer the same objects. */
const SECRET_FIELDS = [
  "id", "_id", "workspace", "environment", "version", "type", "secretKey", "secretValue", "secretValueHidden", "secretComment",
  "secretPath", "secretReminderNote", "secretReminderRepeatDays", "skipMultilineEncoding", "metadata", "secretMetadata", "tags",
  "isRotatedSecret", "rotationId", "createdAt", "updatedAt",
];

/**
 * The batch routes (POST/PATCH/DELETE /api/v3/secrets/batch/raw and /api/v4/secrets/batch) against a real
 * server process, on embedded SQLite and on a fresh PostgreSQL database: each route and mode, nothing
 * written when any item fails, the member role, audit events, change events, the SDK reading back, and
 * no value in the clear at rest.
 */
const suite = (backend: "sqlite" | "postgres") =>
  describe(`secret batches (${backend})`, () => {
    let s: TestServer;
    let pg: ReturnType<typeof createPgDatabase> | undefined;
    let skip = false;
    let project: { id: string; slug: string };
    let member = "";
    let viewer = "";
    let outsider = "";
    let memberCreds: { clientId: string; clientSecret: string };
    let tag: { id: string; slug: string };
    /** Every value a batch wrote, looked for in the database afterwards. */
    const written: string[] = [];
    const secretValue = (label: string) => {
      const v = `batch-${label}-${randomBytes(8).toString("hex")}`;
      written.push(v);
      return v;
    };

    const call = (method: string, path: string, body?: unknown, token = member) => api(s.address, method, path, { token, body });
    const v4 = (method: string, body: Record<string, unknown>, token = member) =>
      call(method, "/api/v4/secrets/batch", { projectId: project.id, environment: "dev", ...body }, token);
    const v3 = (method: string, body: Record<string, unknown>, token = member) =>
      call(method, "/api/v3/secrets/batch/raw", { workspaceId: project.id, environment: "dev", ...body }, token);
    /** Every secret of dev with value, version, comment and tags: what "nothing was written" compares. */
    const snapshot = async () => {
      const r = await call("GET", `/api/v3/secrets/raw?workspaceId=${project.id}&environment=dev&recursive=true`);
      assert.equal(r.status, 200, r.text);
      return r.body.secrets.map((x: any) => [x.secretPath, x.secretKey, x.secretValue, x.version, x.secretComment, x.tags.map((t: any) => t.slug)]);
    };
    const live = (t: TestContext) => (skip ? (t.skip("postgres unavailable"), false) : true);

    before(async (t) => {
      if (backend === "postgres") {
        if (!(await needService(t as any, "postgres"))) { skip = true; return; }
        pg = createPgDatabase();
      }
      s = await startServer({ databaseUrl: pg?.url, env: { KMS_ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
      const mk = async (slug: string) => (await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: slug, slug } })).body.project;
      project = await mk("batch-main");
      const other = await mk("batch-other");
      const join_ = async (name: string, projectId: string, role: string) => {
        const c = await createUaIdentity(s, name);
        const m = await api(s.address, "POST", `/api/v1/projects/${projectId}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role, isTemporary: false }] } });
        assert.equal(m.status, 200, m.text);
        return c;
      };
      memberCreds = await join_("member", project.id, "member");
      const [v, o] = await Promise.all([join_("viewer", project.id, "viewer"), join_("outsider", other.id, "admin")]);
      [member, viewer, outsider] = await Promise.all([memberCreds, v, o].map((c) => login(s.address, c.clientId, c.clientSecret)));
      const tg = await api(s.address, "POST", `/api/v1/projects/${project.id}/tags`, { token: s.adminToken, body: { slug: "db", name: "DB" } });
      assert.equal(tg.status, 200, tg.text);
      tag = tg.body.tag;
      for (const [name, path] of [["app", "/"], ["db", "/app"]]) {
        const f = await api(s.address, "POST", "/api/v2/folders", { token: s.adminToken, body: { projectId: project.id, environment: "dev", name, path } });
        assert.equal(f.status, 200, f.text);
      }
    });
    after(async () => {
      await s?.cleanup();
      pg?.drop();
    });

    test("POST /api/v4/secrets/batch creates every secret, answers them in request order as the single routes do, and lists see them", async (t) => {
      if (!live(t)) return;
      const before = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev&secretPath=/app`);
      assert.deepEqual(before.body.secrets, []);
      const a = secretValue("a");
      const r = await v4("POST", {
        secretPath: "/app",
        secrets: [
          { secretKey: "B_HOST", secretValue: `  ${a}\n`, secretComment: " primary ", tagIds: [tag.id], secretMetadata: [{ key: "team", value: "db" }] },
          { secretKey: "A_PORT", secretValue: "5432", skipMultilineEncoding: true },
        ],
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.secrets.map((x: any) => x.secretKey), ["B_HOST", "A_PORT"], "request order");
      for (const x of r.body.secrets) assert.deepEqual(Object.keys(x), SECRET_FIELDS);
      const [b, p] = r.body.secrets;
      assert.deepEqual([b.secretValue, b.secretComment, b.version, b.secretPath, b.environment, b.workspace], [`${a}\n`, "primary", 1, "/app", "dev", project.id]);
      assert.deepEqual(b.tags.map((x: any) => [x.id, x.slug, x.name]), [[tag.id, "db", "DB"]]);
      assert.deepEqual(b.secretMetadata, [{ key: "team", value: "db", isEncrypted: false }]);
      assert.equal(p.skipMultilineEncoding, true);
      // The list answer (cached per project generation) shows the batch, and its ETag moved.
      const after_ = await call("GET", `/api/v4/secrets?projectId=${project.id}&environment=dev&secretPath=/app`);
      assert.deepEqual(after_.body.secrets.map((x: any) => [x.secretKey, x.secretValue]), [["A_PORT", "5432"], ["B_HOST", `${a}\n`]]);
      assert.notEqual(after_.headers.get("etag"), before.headers.get("etag"));
      const one = await call("GET", `/api/v4/secrets/B_HOST?projectId=${project.id}&environment=dev&secretPath=/app`);
      assert.equal(one.body.secret.id, b.id);
    });

    test("POST /api/v3/secrets/batch/raw takes the project by workspaceId or projectSlug", async (t) => {
      if (!live(t)) return;
      const byId = await v3("POST", { secrets: [{ secretKey: "V3_ONE", secretValue: secretValue("v3one") }] });
      assert.equal(byId.status, 200, byId.text);
      assert.equal(byId.body.secrets[0].secretPath, "/");
      const bySlug = await call("POST", "/api/v3/secrets/batch/raw", { projectSlug: project.slug, environment: "dev", secrets: [{ secretKey: "V3_TWO", secretValue: "2" }] });
      assert.equal(bySlug.status, 200, bySlug.text);
      assert.equal(bySlug.body.secrets[0].workspace, project.id);
      const none = await call("POST", "/api/v3/secrets/batch/raw", { environment: "dev", secrets: [{ secretKey: "V3_X", secretValue: "x" }] });
      assert.equal(none.status, 400);
      assert.equal(none.body.message, "Missing project id or environment");
      const v4NoProject = await call("POST", "/api/v4/secrets/batch", { workspaceId: project.id, environment: "dev", secrets: [{ secretKey: "V4_X", secretValue: "x" }] });
      assert.equal(v4NoProject.status, 422, "v4 needs projectId, as in Infisical");
      assert.deepEqual(v4NoProject.body.message[0].path, ["body", "projectId"]);
      // A secret named `batch`: written by name on v3, still read by name on v4.
      const named = await call("POST", "/api/v3/secrets/raw/batch", { workspaceId: project.id, environment: "dev", secretValue: "b" });
      assert.equal(named.status, 200, named.text);
      const read = await call("GET", `/api/v4/secrets/batch?projectId=${project.id}&environment=dev`);
      assert.equal(read.body.secret?.secretKey, "batch", read.text);
    });

    test("PATCH failOnNotFound updates values, comments, tags and names, per-item secretPath included, with a new version each", async (t) => {
      if (!live(t)) return;
      await v4("POST", { secrets: [{ secretKey: "U_ONE", secretValue: "one" }, { secretKey: "U_TWO", secretValue: "two", tagIds: [tag.id] }] });
      await v4("POST", { secretPath: "/app/db", secrets: [{ secretKey: "U_DEEP", secretValue: "deep" }] });
      const nv = secretValue("u1");
      const r = await v4("PATCH", {
        secrets: [
          { secretKey: "U_ONE", secretValue: nv, secretComment: "changed", secretReminderNote: "rotate", secretReminderRepeatDays: 30 },
          { secretKey: "U_TWO", newSecretName: "U_TWO_RENAMED", tagIds: [] },
          { secretKey: "U_DEEP", secretPath: "app/db/", secretValue: "deeper" },
        ],
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.secrets.map((x: any) => [x.secretKey, x.secretValue, x.version, x.secretPath]),
        [["U_ONE", nv, 2, "/"], ["U_TWO_RENAMED", "two", 2, "/"], ["U_DEEP", "deeper", 2, "/app/db"]]);
      for (const x of r.body.secrets) assert.deepEqual(Object.keys(x), SECRET_FIELDS);
      assert.deepEqual([r.body.secrets[0].secretComment, r.body.secrets[0].secretReminderNote, r.body.secrets[0].secretReminderRepeatDays], ["changed", "rotate", 30]);
      assert.deepEqual(r.body.secrets[1].tags, []);
      const v1 = await call("GET", `/api/v3/secrets/raw/U_ONE?workspaceId=${project.id}&environment=dev&version=1`);
      assert.equal(v1.body.secret.secretValue, "one", "the old version is kept");
      assert.equal((await call("GET", `/api/v3/secrets/raw/U_TWO?workspaceId=${project.id}&environment=dev`)).status, 404);
      // v3 spelling, and mode spelled out.
      const v3r = await v3("PATCH", { mode: "failOnNotFound", secrets: [{ secretKey: "U_ONE", secretValue: "three" }] });
      assert.equal(v3r.status, 200, v3r.text);
      assert.equal(v3r.body.secrets[0].version, 3);
    });

    test("PATCH mode upsert updates what exists and creates what does not (version 1, empty value when none is given)", async (t) => {
      if (!live(t)) return;
      await v4("POST", { secrets: [{ secretKey: "UP_OLD", secretValue: "old" }] });
      const r = await v4("PATCH", {
        mode: "upsert",
        secrets: [{ secretKey: "UP_OLD", secretValue: "new" }, { secretKey: "UP_NEW", secretValue: secretValue("upnew"), tagIds: [tag.id] }, { secretKey: "UP_EMPTY", secretComment: "c" }],
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.secrets.map((x: any) => [x.secretKey, x.version]), [["UP_OLD", 2], ["UP_NEW", 1], ["UP_EMPTY", 1]]);
      assert.equal(r.body.secrets[2].secretValue, "");
      assert.equal(r.body.secrets[1].tags[0].id, tag.id);
      const listed = (await snapshot()).filter((x: any[]) => String(x[1]).startsWith("UP_")).map((x: any[]) => [x[1], x[3]]);
      assert.deepEqual(listed, [["UP_EMPTY", 1], ["UP_NEW", 1], ["UP_OLD", 2]]);
    });

    test("DELETE on v4 and v3 deletes every secret and answers them as they were", async (t) => {
      if (!live(t)) return;
      await v4("POST", { secrets: [{ secretKey: "D_ONE", secretValue: "1" }, { secretKey: "D_TWO", secretValue: "2" }, { secretKey: "D_THREE", secretValue: "3" }] });
      const r = await v4("DELETE", { secrets: [{ secretKey: "D_TWO" }, { secretKey: "D_ONE", type: "shared" }] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.secrets.map((x: any) => [x.secretKey, x.secretValue]), [["D_TWO", "2"], ["D_ONE", "1"]]);
      for (const x of r.body.secrets) assert.deepEqual(Object.keys(x), SECRET_FIELDS);
      const byslug = await call("DELETE", "/api/v3/secrets/batch/raw", { projectSlug: project.slug, environment: "dev", secrets: [{ secretKey: "D_THREE" }] });
      assert.equal(byslug.status, 200, byslug.text);
      assert.deepEqual((await snapshot()).filter((x: any[]) => String(x[1]).startsWith("D_")), []);
    });

    test("nothing is written when any item fails; the error names the offending keys", async (t) => {
      if (!live(t)) return;
      await v4("POST", { secrets: [{ secretKey: "AT_ONE", secretValue: "1" }, { secretKey: "AT_TWO", secretValue: "2" }] });
      const start = await snapshot();
      const cases: { name: string; run: () => ReturnType<typeof v4>; status: number; message: RegExp }[] = [
        { name: "create: a key twice", status: 400, message: /repeated: AT_NEW$/,
          run: () => v4("POST", { secrets: [{ secretKey: "AT_NEW", secretValue: "a" }, { secretKey: "AT_OK", secretValue: "b" }, { secretKey: "AT_NEW", secretValue: "c" }] }) },
        { name: "create: a key that exists", status: 400, message: /^Secret already exists: AT_TWO$/,
          run: () => v4("POST", { secrets: [{ secretKey: "AT_NEW", secretValue: "a" }, { secretKey: "AT_TWO", secretValue: "b" }] }) },
        { name: "create: a bad name", status: 422, message: /body\.secrets\.1\.secretKey: .*"BAD NAME"/,
          run: () => v4("POST", { secrets: [{ secretKey: "AT_NEW", secretValue: "a" }, { secretKey: "BAD NAME", secretValue: "b" }] }) },
        { name: "create: an unknown tag", status: 404, message: /tagIds: tag nope not found/,
          run: () => v4("POST", { secrets: [{ secretKey: "AT_NEW", secretValue: "a" }, { secretKey: "AT_NEW2", secretValue: "b", tagIds: ["nope"] }] }) },
        { name: "create: a missing folder", status: 404, message: /Folder with path '\/nowhere'/,
          run: () => v4("POST", { secretPath: "/nowhere", secrets: [{ secretKey: "AT_NEW", secretValue: "a" }] }) },
        { name: "create: a value that is not a string", status: 422, message: /body\.secrets\.0\.secretValue/,
          run: () => v4("POST", { secrets: [{ secretKey: "AT_NEW", secretValue: 42 }] }) },
        { name: "create: no secrets", status: 422, message: /body\.secrets: at least one secret is required/, run: () => v4("POST", { secrets: [] }) },
        { name: "create: more than 1,000 secrets", status: 422, message: /body\.secrets: at most 1000 secrets per request/,
          run: () => v4("POST", { secrets: Array.from({ length: 1001 }, (_, i) => ({ secretKey: `AT_MANY_${i}`, secretValue: "v" })) }) },
        { name: "update: a key that does not exist", status: 404, message: /^Secret does not exist: AT_GONE, AT_GONE2 in path \/$/,
          run: () => v4("PATCH", { secrets: [{ secretKey: "AT_ONE", secretValue: "changed" }, { secretKey: "AT_GONE", secretValue: "x" }, { secretKey: "AT_GONE2" }] }) },
        { name: "update: a key twice", status: 400, message: /repeated: AT_ONE$/,
          run: () => v4("PATCH", { secrets: [{ secretKey: "AT_ONE", secretValue: "x" }, { secretKey: "AT_ONE", secretValue: "y" }] }) },
        { name: "update: a rename onto an existing name", status: 400, message: /^Secret with new name already exists: AT_TWO in path \/$/,
          run: () => v4("PATCH", { secrets: [{ secretKey: "AT_TWO", secretValue: "x" }, { secretKey: "AT_ONE", newSecretName: "AT_TWO" }] }) },
        { name: "update: two renames onto one name", status: 400, message: /would be named AT_SAME in path \//,
          run: () => v4("PATCH", { secrets: [{ secretKey: "AT_ONE", newSecretName: "AT_SAME" }, { secretKey: "AT_TWO", newSecretName: "AT_SAME" }] }) },
        { name: "upsert: a rename onto a name the batch creates", status: 400, message: /would be named AT_NEW in path \//,
          run: () => v4("PATCH", { mode: "upsert", secrets: [{ secretKey: "AT_NEW", secretValue: "n" }, { secretKey: "AT_ONE", newSecretName: "AT_NEW" }] }) },
        { name: "update: a bad new name", status: 422, message: /body\.secrets\.0\.newSecretName: .*"A B"/,
          run: () => v4("PATCH", { secrets: [{ secretKey: "AT_ONE", newSecretName: "A B" }] }) },
        { name: "update: an item in a missing folder", status: 404, message: /Folder with path '\/nowhere'/,
          run: () => v4("PATCH", { secrets: [{ secretKey: "AT_ONE", secretValue: "x" }, { secretKey: "AT_ONE", secretPath: "/nowhere", secretValue: "y" }] }) },
        { name: "update: a bad item path names the item", status: 400, message: /^secrets\.1\.secretPath: "\/a\/\.\.\/b" is not a valid folder path/,
          run: () => v4("PATCH", { secrets: [{ secretKey: "AT_ONE", secretValue: "x" }, { secretKey: "AT_TWO", secretPath: "/a/../b", secretValue: "y" }] }) },
        { name: "update: an unknown mode", status: 422, message: /body\.mode/, run: () => v4("PATCH", { mode: "merge", secrets: [{ secretKey: "AT_ONE", secretValue: "x" }] }) },
        { name: "delete: a key that does not exist", status: 404, message: /^Secret does not exist: AT_GONE in path \/$/,
          run: () => v4("DELETE", { secrets: [{ secretKey: "AT_ONE" }, { secretKey: "AT_GONE" }] }) },
        { name: "delete: a key twice", status: 400, message: /repeated: AT_TWO$/, run: () => v4("DELETE", { secrets: [{ secretKey: "AT_TWO" }, { secretKey: "AT_TWO" }] }) },
        { name: "delete: a personal secret", status: 400, message: /^type: personal secrets belong to users/,
          run: () => v4("DELETE", { secrets: [{ secretKey: "AT_ONE" }, { secretKey: "AT_TWO", type: "personal" }] }) },
      ];
      for (const c of cases) {
        const r = await c.run();
        assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
        const message = typeof r.body.message === "string" ? r.body.message : r.body.message.map((i: any) => `${i.path.join(".")}: ${i.message}`).join("; ");
        assert.match(message, c.message, c.name);
        assert.deepEqual(await snapshot(), start, `${c.name}: nothing written`);
      }
    });

    test("a viewer, and a member of another project, are refused every batch route and nothing is written", async (t) => {
      if (!live(t)) return;
      await v4("POST", { secrets: [{ secretKey: "P_ONE", secretValue: "1" }] });
      const start = await snapshot();
      for (const token of [viewer, outsider]) {
        for (const [method, secrets] of [["POST", [{ secretKey: "P_NEW", secretValue: "x" }]], ["PATCH", [{ secretKey: "P_ONE", secretValue: "x" }]], ["DELETE", [{ secretKey: "P_ONE" }]]] as const) {
          const r4 = await v4(method, { secrets }, token);
          assert.equal(r4.status, 403, `${method} v4: ${r4.text}`);
          const r3 = await v3(method, { secrets }, token);
          assert.equal(r3.status, 403, `${method} v3: ${r3.text}`);
        }
        const upsert = await v4("PATCH", { mode: "upsert", secrets: [{ secretKey: "P_NEW", secretValue: "x" }] }, token);
        assert.equal(upsert.status, 403);
      }
      assert.deepEqual(await snapshot(), start);
    });

    test("each secret of a batch gets its audit event (marked batch), with no value", async (t) => {
      if (!live(t)) return;
      const hidden = secretValue("audit");
      await v4("POST", { secrets: [{ secretKey: "AU_ONE", secretValue: hidden }, { secretKey: "AU_TWO", secretValue: hidden }] });
      await v4("PATCH", { mode: "upsert", secrets: [{ secretKey: "AU_ONE", secretValue: "x" }, { secretKey: "AU_THREE", secretValue: "y" }] });
      await v4("DELETE", { secrets: [{ secretKey: "AU_TWO" }] });
      const logs = await call("GET", `/api/v1/projects/${project.id}/audit-logs?limit=500`, undefined, s.adminToken);
      assert.equal(logs.status, 200, logs.text);
      const au = logs.body.auditLogs.filter((l: any) => String(l.metadata.secretKey).startsWith("AU_"))
        .map((l: any) => `${l.action} ${l.metadata.secretKey} v${l.metadata.version} ${l.metadata.batch}`).sort();
      assert.deepEqual(au, [
        "create-secret AU_ONE v1 true", "create-secret AU_THREE v1 true", "create-secret AU_TWO v1 true",
        "delete-secret AU_TWO v1 true", "update-secret AU_ONE v2 true",
      ]);
      assert.ok(!logs.text.includes(hidden), "no value in the audit log");
    });

    test("the change stream (what the secrets agent listens to) hears every secret of a batch", async (t) => {
      if (!live(t)) return;
      const c = createSecretEventsClient({ address: s.address });
      const abort = new AbortController();
      const it = await c.open({ projectId: project.id, environment: "dev", secretPath: "/app", recursive: true }, { token: viewer, signal: abort.signal });
      const seen: Record<string, string>[] = [];
      const timer = setTimeout(() => abort.abort(), 8_000);
      try {
        for await (const ev of it as AsyncIterable<ServerSentEvent>) {
          if (ev.event === "ready") {
            await v4("POST", { secretPath: "/app", secrets: [{ secretKey: "EV_ONE", secretValue: "1" }, { secretKey: "EV_TWO", secretValue: "2" }] });
            await v4("PATCH", { secrets: [{ secretKey: "EV_ONE", secretPath: "/app", newSecretName: "EV_ONE_B" }, { secretKey: "EV_DEEP", secretPath: "/app/db", secretValue: "x" }], mode: "upsert" });
            await v4("DELETE", { secretPath: "/app", secrets: [{ secretKey: "EV_TWO" }] });
          }
          if (ev.event === "change") seen.push(JSON.parse(ev.data));
          if (seen.length >= 5) break;
        }
      } catch (e) {
        if (!abort.signal.aborted) throw e;
      } finally {
        clearTimeout(timer);
        abort.abort();
        await c.close();
      }
      assert.deepEqual(seen.map((x) => [x.secretPath, x.secretKey, x.action, x.newSecretKey]), [
        ["/app", "EV_ONE", "created", undefined], ["/app", "EV_TWO", "created", undefined],
        ["/app", "EV_ONE", "updated", "EV_ONE_B"], ["/app/db", "EV_DEEP", "created", undefined],
        ["/app", "EV_TWO", "deleted", undefined],
      ]);
    });

    test("the official @infisical/sdk reads back what a batch wrote", async (t) => {
      if (!live(t)) return;
      const v = secretValue("sdk");
      const w = await v4("PATCH", { mode: "upsert", secretPath: "/app/db", secrets: [{ secretKey: "SDK_URL", secretValue: "postgres://${SDK_HOST}/app" }, { secretKey: "SDK_HOST", secretValue: v }] });
      assert.equal(w.status, 200, w.text);
      const sdk = new InfisicalSDK({ siteUrl: s.address });
      await sdk.auth().universalAuth.login(memberCreds);
      const listed = await sdk.secrets().listSecrets({ projectId: project.id, environment: "dev", secretPath: "/app/db" });
      const byKey = new Map(listed.secrets.map((x) => [x.secretKey, x.secretValue]));
      assert.equal(byKey.get("SDK_HOST"), v);
      assert.equal(byKey.get("SDK_URL"), `postgres://${v}/app`, "references in batch-written values expand");
      const one = await sdk.secrets().getSecret({ projectId: project.id, environment: "dev", secretPath: "/app/db", secretName: "SDK_HOST" });
      assert.equal(one.secretValue, v);
    });

    test("no value a batch wrote is in the database in the clear", async (t) => {
      if (!live(t)) return;
      assert.ok(written.length >= 5);
      const dump = backend === "postgres"
        ? execFileSync("pg_dump", ["-h", "127.0.0.1", "-U", "postgres", "-d", pg!.name], { maxBuffer: 256 * 1024 * 1024 })
        : Buffer.concat(["kms.sqlite", "kms.sqlite-wal"].map((f) => join(s.dataDir, f)).filter(existsSync).map((f) => readFileSync(f)));
      assert.ok(dump.includes("AT_ONE"), "positive control: a key name is found, so the search works");
      for (const v of written) assert.ok(!dump.includes(v), `value ${v.slice(0, 12)}… is not stored in the clear`);
      assert.ok(!s.output().includes("batch-"), "nor logged");
    });
  });

suite("sqlite");
suite("postgres");
