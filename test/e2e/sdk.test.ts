import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { InfisicalSDK } from "@infisical/sdk";
import { api, createUaIdentity, startServer, type TestServer } from "../helpers/server.js";

/**
 * The official Node SDK (@infisical/sdk v5), unmodified, against a real server process (issue 2 item 11).
 * Every call below goes through the SDK's own request building: its query spellings, its JSON DELETE
 * bodies, its deprecated workspace aliases (api.md 8).
 */
describe("@infisical/sdk v5 against kms server", () => {
  let s: TestServer;
  let sdk: InfisicalSDK;
  let projectId = "";
  let identityId = "";

  before(async () => {
    s = await startServer();
    // Organization members may create projects; the SDK identity creates its own.
    const c = await createUaIdentity(s, "sdk-client", { role: "member" });
    identityId = c.identityId;
    sdk = new InfisicalSDK({ siteUrl: s.address });
    await sdk.auth().universalAuth.login({ clientId: c.clientId, clientSecret: c.clientSecret });
  });
  after(() => s.cleanup());

  test("universal-auth login and token renew", async () => {
    const first = sdk.auth().getAccessToken();
    assert.ok(first);
    await sdk.auth().universalAuth.renew();
    const renewed = sdk.auth().getAccessToken();
    assert.ok(renewed);
    const r = await api(s.address, "GET", "/api/v1/projects", { token: renewed! });
    assert.equal(r.status, 200, "the renewed token works");
  });

  test("projects().create and environments().create (deprecated workspace aliases)", async () => {
    const project = await sdk.projects().create({ projectName: "SDK Project", type: "secret-manager", slug: "sdk-project" });
    assert.equal(project.slug, "sdk-project");
    projectId = project.id;
    const env = await sdk.environments().create({ projectId, name: "QA", slug: "qa", position: 4 });
    assert.equal(env.slug, "qa");
    assert.equal(env.name, "QA");
    const members = await api(s.address, "GET", `/api/v1/projects/${projectId}/memberships/identities`, { token: s.adminToken });
    assert.equal(members.body.identityMemberships[0].identityId, identityId, "the creator is the project's admin");
  });

  test("folders().create and listFolders", async () => {
    const f = await sdk.folders().create({ projectId, environment: "dev", name: "app", path: "/", description: "application" });
    assert.equal(f.name, "app");
    assert.equal(f.description, "application");
    await sdk.folders().create({ projectId, environment: "dev", name: "db", path: "/app" });
    const top = await sdk.folders().listFolders({ projectId, environment: "dev" });
    assert.deepEqual(top.map((x) => x.name), ["app"]);
    const all = await sdk.folders().listFolders({ projectId, environment: "dev", path: "/", recursive: true });
    assert.deepEqual(all.map((x) => x.name), ["app", "db"]);
    const under = await sdk.folders().listFolders({ projectId, environment: "dev", path: "/app" });
    assert.deepEqual(under.map((x) => x.name), ["db"]);
  });

  test("secrets(): create, get, update, list, delete", async () => {
    const created = await sdk.secrets().createSecret("DB_HOST", { projectId, environment: "dev", secretValue: "db.internal", secretComment: "primary" });
    assert.equal(created.secret.secretKey, "DB_HOST");
    await sdk.secrets().createSecret("DB_URL", { projectId, environment: "dev", secretValue: "postgres://${DB_HOST}/app", skipMultilineEncoding: false });
    await sdk.secrets().createSecret("NESTED", { projectId, environment: "dev", secretPath: "/app/db", secretValue: "deep" });

    const got = await sdk.secrets().getSecret({ projectId, environment: "dev", secretName: "DB_URL" });
    assert.equal(got.secretValue, "postgres://db.internal/app", "the SDK expands references by default");
    const raw = await sdk.secrets().getSecret({ projectId, environment: "dev", secretName: "DB_URL", expandSecretReferences: false });
    assert.equal(raw.secretValue, "postgres://${DB_HOST}/app");

    const updated = await sdk.secrets().updateSecret("DB_HOST", { projectId, environment: "dev", secretValue: "db2.internal", metadata: { owner: "ops" } });
    assert.equal(updated.secret.secretValue, "db2.internal");
    assert.equal(updated.secret.version, 2);
    const v1 = await sdk.secrets().getSecret({ projectId, environment: "dev", secretName: "DB_HOST", version: 1 });
    assert.equal(v1.secretValue, "db.internal");
    const renamed = await sdk.secrets().updateSecret("NESTED", { projectId, environment: "dev", secretPath: "/app/db", newSecretName: "NESTED_2" });
    assert.equal(renamed.secret.secretKey, "NESTED_2");

    const listed = await sdk.secrets().listSecrets({ projectId, environment: "dev" });
    assert.deepEqual(listed.secrets.map((x) => [x.secretKey, x.secretValue]), [["DB_HOST", "db2.internal"], ["DB_URL", "postgres://db2.internal/app"]]);
    const recursive = await sdk.secrets().listSecrets({ projectId, environment: "dev", recursive: true, viewSecretValue: false });
    assert.deepEqual(recursive.secrets.map((x) => [x.secretPath, x.secretKey, x.secretValue]), [
      ["/", "DB_HOST", "<hidden-by-infisical>"], ["/", "DB_URL", "<hidden-by-infisical>"], ["/app/db", "NESTED_2", "<hidden-by-infisical>"],
    ]);

    const deleted = await sdk.secrets().deleteSecret("NESTED_2", { projectId, environment: "dev", secretPath: "/app/db" });
    assert.equal(deleted.secret.secretKey, "NESTED_2");
    await assert.rejects(sdk.secrets().getSecret({ projectId, environment: "dev", secretPath: "/app/db", secretName: "NESTED_2" }), (e: Error) => {
      assert.equal(e.name, "InfisicalSDKRequestError");
      assert.match(e.message, /\[StatusCode=404\] Secret with name 'NESTED_2' not found/);
      return true;
    });
  });

  test("imports: listSecretsWithImports, getSecret with includeImports, attachToProcessEnv", async () => {
    await sdk.secrets().createSecret("SHARED_KEY", { projectId, environment: "prod", secretValue: "from-prod" });
    await sdk.secrets().createSecret("DB_HOST", { projectId, environment: "prod", secretValue: "prod-host" });
    const imp = await api(s.address, "POST", "/api/v2/secret-imports", {
      token: sdk.auth().getAccessToken()!, body: { projectId, environment: "dev", path: "/", import: { environment: "prod", path: "/" } },
    });
    assert.equal(imp.status, 200, imp.text);
    const merged = await sdk.secrets().listSecretsWithImports({ projectId, environment: "dev" });
    assert.deepEqual(merged.map((x) => [x.secretKey, x.secretValue]), [["DB_HOST", "db2.internal"], ["DB_URL", "postgres://db2.internal/app"], ["SHARED_KEY", "from-prod"]]);
    // The SDK spells it includeImports on this route (api.md 8, item 3).
    const viaImport = await sdk.secrets().getSecret({ projectId, environment: "dev", secretName: "SHARED_KEY", includeImports: true });
    assert.equal(viaImport.secretValue, "from-prod");
    delete process.env.SHARED_KEY;
    await sdk.secrets().listSecrets({ projectId, environment: "dev", includeImports: true, attachToProcessEnv: true });
    assert.equal(process.env.SHARED_KEY, "from-prod");
    assert.equal(process.env.DB_HOST, "db2.internal", "own secrets win over imported ones");
    delete process.env.SHARED_KEY;
    delete process.env.DB_HOST;
    delete process.env.DB_URL;
  });

  test("errors reach the SDK: string messages verbatim, 422s by status", async () => {
    // A 422 carries the zod issue list as `message` (api.md 0.4, as Infisical does); the SDK only quotes
    // string messages, so it reports the status alone. Same behaviour as against Infisical.
    await assert.rejects(
      sdk.secrets().createSecret("HAS SPACE", { projectId, environment: "dev", secretValue: "x" }),
      (e: Error) => e.message === "Request failed with status 422",
    );
    await assert.rejects(sdk.secrets().listSecrets({ projectId, environment: "nope" }), /Environment with slug 'nope'/);
  });
});
