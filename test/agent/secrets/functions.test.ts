import assert from "node:assert/strict";
import { test } from "node:test";
import { newRenderContext, parseListOptions, scopeKey } from "../../../src/agent/secrets/functions.js";
import { createRenderer } from "../../../src/agent/secrets/render.js";
import type { ListQuery, SecretSource } from "../../../src/agent/secrets/source.js";
import type { TemplateEntry } from "../../../src/agent/secrets/config.js";
import { apiErrorFor } from "../../../src/client/errors.js";
import type { Secret } from "../../../src/client/types.js";

const sec = (key: string, value: string, extra: Partial<Secret> = {}): Secret => ({ id: `id-${key}`, _id: `id-${key}`, secretKey: key, secretValue: value, secretPath: "/", type: "shared", workspace: "ws", secretComment: "", ...extra });

/** A source answering from a table keyed by "env:path"; records every call. */
const fakeSource = (folders: Record<string, { secrets: Secret[]; imports?: { secretPath: string; environment: string; secrets: Secret[] }[] }>) => {
  const calls: string[] = [];
  const source: SecretSource = {
    invalidate: () => {},
    list: async (q: ListQuery) => {
      calls.push(`list ${q.environment}:${q.secretPath} recursive=${q.recursive} expand=${q.expandSecretReferences}`);
      const f = folders[`${q.environment}:${q.secretPath}`];
      if (!f) throw apiErrorFor({ method: "GET", path: "/api/v4/secrets", status: 404, serverMessage: `Environment with slug '${q.environment}' not found` });
      return { secrets: f.secrets, imports: f.imports ?? [] };
    },
    get: async (q) => {
      calls.push(`get ${q.environment}:${q.secretPath}/${q.secretName}`);
      const s = folders[`${q.environment}:${q.secretPath}`]?.secrets.find((x) => x.secretKey === q.secretName);
      if (!s) throw apiErrorFor({ method: "GET", path: `/api/v4/secrets/${q.secretName}`, status: 404, serverMessage: `Secret with name '${q.secretName}' not found` });
      return s;
    },
    projectIdBySlug: async (slug) => {
      calls.push(`project ${slug}`);
      if (slug !== "my-app") throw apiErrorFor({ method: "GET", path: `/api/v1/projects/slug/${slug}`, status: 404, serverMessage: "Project not found" });
      return "P";
    },
  };
  return { source, calls };
};

const render = async (text: string, source: SecretSource) => {
  const r = createRenderer({ "template-content": text } as TemplateEntry);
  const ctx = newRenderContext(source);
  try {
    return { out: await r.render(ctx), reads: [...ctx.reads.values()] };
  } catch (e) {
    return { error: (e as Error).message, reads: [...ctx.reads.values()] };
  }
};

const options: { name: string; args: string[]; want?: { recursive: boolean; expandSecretReferences: boolean }; error?: RegExp }[] = [
  { name: "no argument: recursive false, expand true", args: [], want: { recursive: false, expandSecretReferences: true } },
  { name: "both given", args: ['{"recursive": true, "expandSecretReferences": false}'], want: { recursive: true, expandSecretReferences: false } },
  { name: "keys match case-insensitively, as Go's encoding/json", args: ['{"Recursive": true}'], want: { recursive: true, expandSecretReferences: true } },
  { name: "unknown keys are ignored", args: ['{"include_imports": false}'], want: { recursive: false, expandSecretReferences: true } },
  { name: "null keeps the default", args: ['{"expandSecretReferences": null}'], want: { recursive: false, expandSecretReferences: true } },
  { name: "JSON null", args: ["null"], want: { recursive: false, expandSecretReferences: true } },
  { name: "a string where a bool belongs", args: ['{"recursive": "yes"}'], error: /cannot unmarshal string into Go struct field secretArguments\.recursive of type bool/ },
  { name: "not JSON", args: ["{recursive: true}"], error: /invalid options .*expected e\.g\./ },
  { name: "an array", args: ["[true]"], error: /cannot unmarshal array into Go value of type secretArguments/ },
];
for (const c of options) {
  test(`options: ${c.name}`, () => {
    if (c.error) assert.throws(() => parseListOptions(c.args), c.error);
    else assert.deepEqual(parseListOptions(c.args), c.want);
  });
}

test("list items carry Go's fields: Key, WorkspaceId, Value, Type, ID, SecretPath, Comment (and print as Go's struct)", async () => {
  const { source } = fakeSource({ "dev:/": { secrets: [sec("A", "1", { secretComment: "first" })] } });
  const r = await render(`{{ range secret "P" "dev" "/" }}{{ .Key }}|{{ .WorkspaceId }}|{{ .Value }}|{{ .Type }}|{{ .ID }}|{{ .SecretPath }}|{{ .Comment }}{{ end }}
{{ printf "%T" (listSecrets "P" "dev" "/") }} {{ printf "%+v" (index (listSecrets "P" "dev" "/") 0) }}`, source);
  assert.equal(r.out, "A|ws|1|shared|id-A|/|first\n[]models.SingleEnvironmentVariable {Key:A WorkspaceId:ws Value:1 Type:shared ID:id-A SecretPath:/ Tags:[] Comment:first Etag: SkipMultilineEncoding:false}");
});

test("the options reach the request; secret and listSecrets are the same function", async () => {
  const { source, calls } = fakeSource({ "dev:/": { secrets: [] } });
  await render('{{ secret "P" "dev" "/" `{"recursive": true, "expandSecretReferences": false}` }}{{ listSecrets "P" "dev" "/" }}', source);
  assert.deepEqual(calls, ["list dev:/ recursive=true expand=false", "list dev:/ recursive=false expand=true"]);
});

test("imports: the folder's own key wins, then the last import that has it; imported items have no SecretPath (as upstream)", async () => {
  const { source } = fakeSource({
    "dev:/": {
      secrets: [sec("A", "own")],
      imports: [
        { secretPath: "/shared", environment: "dev", secrets: [sec("A", "first-import"), sec("B", "first-import"), sec("C", "first-import")] },
        { secretPath: "/other", environment: "prod", secrets: [sec("B", "last-import")] },
      ],
    },
  });
  const r = await render('{{ range secret "P" "dev" "/" }}{{ .Key }}={{ .Value }}@{{ .SecretPath }};{{ end }}', source);
  assert.equal(r.out, "A=own@/;B=last-import@;C=first-import@;");
  // Imported folders are watched too.
  assert.deepEqual(r.reads.map((s) => `${s.environment}:${s.secretPath}`).sort(), ["dev:/", "dev:/shared", "prod:/other"]);
});

test("getSecretByName returns one item; a missing secret is Go's `error calling` with the server's message, and the folder is still watched", async () => {
  const { source } = fakeSource({ "dev:/app": { secrets: [sec("HOST", "h", { secretPath: "/app" })] } });
  const ok = await render('{{ with getSecretByName "P" "dev" "/app" "HOST" }}{{ .Key }}={{ .Value }} in {{ .SecretPath }}{{ end }}', source);
  assert.equal(ok.out, "HOST=h in /app");
  const missing = await render('x\n  {{ getSecretByName "P" "dev" "/app" "NOPE" }}', source);
  assert.match(missing.error!, /^template: literalTemplate:2:5: executing "literalTemplate" at <getSecretByName "P" "dev" "\/app" "NOPE">: error calling getSecretByName: GET \/api\/v4\/secrets\/NOPE: HTTP 404: Secret with name 'NOPE' not found$/);
  assert.deepEqual(missing.reads.map(scopeKey), [scopeKey({ projectId: "P", environment: "dev", secretPath: "/app", recursive: false })]);
});

test("argument counts are checked as Go checks a func(string, string, string, ...string)", async () => {
  const { source } = fakeSource({});
  assert.match((await render('{{ secret "P" "dev" }}', source)).error!, /wrong number of args for secret: want at least 3 got 2/);
  assert.match((await render('{{ getSecretByName "P" "dev" "/" }}', source)).error!, /wrong number of args for getSecretByName: want 4 got 3/);
  assert.match((await render('{{ secret "P" "dev" 3 }}', source)).error!, /at <3>: expected string; found 3/);
});

test("listSecretsByProjectSlug looks the project up once per render", async () => {
  const { source, calls } = fakeSource({ "dev:/": { secrets: [sec("A", "1")] } });
  const r = await render('{{ range listSecretsByProjectSlug "my-app" "dev" "/" }}{{ .Key }}{{ end }}{{ range listSecretsByProjectSlug "my-app" "dev" "/" }}{{ .Key }}{{ end }}', source);
  assert.equal(r.out, "AA");
  assert.deepEqual(calls, ["project my-app", "list dev:/ recursive=false expand=true", "list dev:/ recursive=false expand=true"]);
  const bad = await render('{{ listSecretsByProjectSlug "nope" "dev" "/" }}', source);
  assert.match(bad.error!, /error calling listSecretsByProjectSlug: failed to get project by slug: .*404/);
});

test("Sprig is there (minus env and expandenv), as upstream", async () => {
  const { source } = fakeSource({ "dev:/": { secrets: [sec("a_key", "v")] } });
  const r = await render('{{ range secret "P" "dev" "/" }}{{ .Key | upper }}={{ .Value | b64enc | quote }}{{ end }}', source);
  assert.equal(r.out, 'A_KEY="dg=="');
  assert.match((await render('{{ env "HOME" }}', source)).error!, /function "env" not defined/);
});

test("dynamic_secret / dynamicSecret: the lease's data as a map, 4 to 6 arguments, principals passed on", async () => {
  const { source } = fakeSource({});
  const asked: unknown[] = [];
  const leases = { acquire: async (r: unknown, owner: string) => (asked.push([r, owner]), { DB_USERNAME: "u1", DB_PASSWORD: "p1" }) };
  const r = createRenderer({ "template-content": '{{ with dynamic_secret "app" "dev" "/" "pg" "1m" }}{{ .DB_USERNAME }}:{{ .DB_PASSWORD }}{{ end }} {{ (dynamicSecret "app" "dev" "/db" "ssh" "" "alice, bob").DB_USERNAME }}' } as TemplateEntry);
  assert.equal(await r.render(newRenderContext(source, undefined, { leases, owner: "templates[3]" })), "u1:p1 u1");
  assert.deepEqual(asked, [
    [{ projectSlug: "app", environment: "dev", secretPath: "/", name: "pg", ttl: "1m", principals: "" }, "templates[3]"],
    [{ projectSlug: "app", environment: "dev", secretPath: "/db", name: "ssh", ttl: "", principals: "alice, bob" }, "templates[3]"],
  ]);
  const few = createRenderer({ "template-content": '{{ dynamic_secret "app" "dev" "/" }}' } as TemplateEntry);
  await assert.rejects(few.render(newRenderContext(source, undefined, { leases })), /error calling dynamic_secret: takes 4 to 6 arguments .* got 3/);
  const preview = createRenderer({ "template-content": '{{ dynamic_secret "app" "dev" "/" "pg" }}' } as TemplateEntry);
  await assert.rejects(preview.render(newRenderContext(source)), /dynamic secrets are not available here/);
});

test("an empty project, environment or name is refused naming the argument, before any request", async () => {
  const { source } = fakeSource({});
  const leases = { acquire: async () => ({}) };
  for (const [text, want] of [
    ['{{ getSecretByName "P" "dev" "/" "" }}', /error calling getSecretByName: the secret name \(argument 4\) is empty/],
    ['{{ getSecretByName "" "dev" "/" "K" }}', /error calling getSecretByName: the project id \(argument 1\) is empty/],
    ['{{ secret "P" " " "/" }}', /error calling secret: the environment slug \(argument 2\) is empty/],
    ['{{ listSecretsByProjectSlug "" "dev" "/" }}', /error calling listSecretsByProjectSlug: the project slug \(argument 1\) is empty/],
    ['{{ dynamic_secret "app" "dev" "/" "" }}', /error calling dynamic_secret: the dynamic secret name \(argument 4\) is empty/],
  ] as const) {
    const r = createRenderer({ "template-content": text } as TemplateEntry);
    await assert.rejects(r.render(newRenderContext(source, undefined, { leases })), want, text);
  }
});
