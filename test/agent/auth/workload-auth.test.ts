import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { AuthConfig, checkAuth, createAuthMethod } from "../../../src/agent/auth/index.js";
import type { AuthDeps } from "../../../src/agent/auth/index.js";
import { parseCredentialsFile, resolveAwsCredentials } from "../../../src/agent/auth/aws-iam.js";
import { newIssuer, newServiceAccount } from "../../helpers/jwks.js";
import { startMetadataServer, type MetadataServer } from "../../helpers/imds.js";
import { opensslOk } from "../../helpers/openssl.js";
import { authMethodContract, recordingClient } from "./auth-method.contract.js";

const dir = mkdtempSync(join(tmpdir(), "kms-agent-auth-"));
const file = (name: string, content: string) => { const p = join(dir, name); writeFileSync(p, content); return p; };
const ID = "7f1e2d3c-0000-4000-8000-000000000001";
const idFile = file("identity-id", `${ID}\n`);
const saToken = file("sa-token", "eyJ.k8s.token\n");
const sa = newServiceAccount("builder@proj-a.iam.gserviceaccount.com", "key-1");
const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const certKey = file("svc.key", privateKey.export({ type: "pkcs8", format: "pem" }) as string);
// A real certificate of that key: the method checks the pair before offering it in a handshake.
const cert = join(dir, "svc.crt");
opensslOk("req", "-x509", "-key", certKey, "-subj", "/CN=svc", "-days", "1", "-out", cert);

let meta: MetadataServer;
before(async () => {
  const signer = await newIssuer("m1");
  meta = await startMetadataServer({
    gce: { signer, claims: () => ({ email: "web@proj-a.iam.gserviceaccount.com" }) },
    azure: { signer, claims: (_resource, identity) => ({ oid: identity ? `user-assigned:${identity}` : "sp-1" }) },
    aws: { role: "web", accessKeyId: "ASIA1", secretAccessKey: "s", token: "t", region: "eu-west-1" },
  });
});
after(() => meta?.close());

const make = (config: unknown, deps: AuthDeps = {}) => () => createAuthMethod(AuthConfig.parse(config), deps);
const env = () => ({ GCE_METADATA_HOST: meta.hostPort, AZURE_IMDS_ENDPOINT: meta.url, AWS_EC2_METADATA_SERVICE_ENDPOINT: meta.url, AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"), AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9/" });

authMethodContract("kubernetes", { make: make({ type: "kubernetes", config: { "identity-id": idFile, "service-account-token": saToken } }), call: "kubernetesAuthLogin", identityId: ID });
authMethodContract("kubernetes-auth", { make: make({ type: "kubernetes-auth", config: { "identity-id": ID, "service-account-token-path": saToken } }), call: "kubernetesAuthLogin", identityId: ID });
authMethodContract("gcp-id-token", { make: () => make({ type: "gcp-id-token", config: { "identity-id": ID } }, { env: env() })(), call: "gcpAuthLogin", identityId: ID });
authMethodContract("gcp-iam", { make: make({ type: "gcp-iam", config: { "identity-id": ID, "service-account-key": sa.keyFile } }), call: "gcpAuthLogin", identityId: ID });
authMethodContract("azure", { make: () => make({ type: "azure", config: { "identity-id": ID } }, { env: env() })(), call: "azureAuthLogin", identityId: ID });
authMethodContract("azure-auth", { make: () => make({ type: "azure-auth", config: { "identity-id": ID } }, { env: env() })(), call: "azureAuthLogin", identityId: ID });
authMethodContract("aws-iam", { make: () => make({ type: "aws-iam", config: { "identity-id": ID } }, { env: env() })(), call: "awsIamAuthLogin", identityId: ID });
authMethodContract("tls-cert", { make: make({ type: "tls-cert", config: { "identity-id": ID, certificate: cert, "private-key": certKey } }), call: "tlsCertAuthLogin", identityId: ID });

describe("what each method sends", () => {
  test("kubernetes reads the token file at every login (the kubelet rotates it)", async () => {
    const token = file("rotating", "first");
    const m = createAuthMethod(AuthConfig.parse({ type: "kubernetes", config: { "identity-id": ID, "service-account-token": token } }));
    const { client, calls } = recordingClient();
    await m.login(client);
    writeFileSync(token, "second\n");
    await m.login(client);
    assert.deepEqual(calls.map((c) => (c.args[0] as { jwt: string }).jwt), ["first", "second"]);
  });

  test("gcp-iam signs RS256 with the key id, sub = the account, aud = identity id, at most 15 minutes", async () => {
    const { client, calls } = recordingClient();
    await createAuthMethod(AuthConfig.parse({ type: "gcp-iam", config: { "identity-id": ID, "service-account-key": sa.keyFile } })).login(client);
    const jwt = (calls[0]!.args[0] as { jwt: string }).jwt;
    assert.deepEqual(decodeProtectedHeader(jwt), { alg: "RS256", kid: "key-1", typ: "JWT" });
    const claims = decodeJwt(jwt);
    assert.equal(claims.sub, sa.email);
    assert.equal(claims.aud, ID);
    assert.ok(claims.exp! - claims.iat! <= 900);
  });

  test("gcp-id-token asks the metadata server for audience = identity id, format=full", async () => {
    const { client, calls } = recordingClient();
    await createAuthMethod(AuthConfig.parse({ type: "gcp-id-token", config: { "identity-id": ID } }), { env: env() }).login(client);
    assert.equal(decodeJwt((calls[0]!.args[0] as { jwt: string }).jwt).aud, ID);
  });

  test("aws-iam sends a signed GetCallerIdentity for the STS endpoint of the environment, with the IMDS session token", async () => {
    const { client, calls } = recordingClient();
    await createAuthMethod(AuthConfig.parse({ type: "aws-iam", config: { "identity-id": ID } }), { env: env() }).login(client);
    const b = calls[0]!.args[0] as { iamHttpRequestMethod: string; iamRequestBody: string; iamRequestHeaders: string };
    assert.equal(b.iamHttpRequestMethod, "POST");
    assert.equal(Buffer.from(b.iamRequestBody, "base64").toString(), "Action=GetCallerIdentity&Version=2011-06-15");
    const h = JSON.parse(Buffer.from(b.iamRequestHeaders, "base64").toString()) as Record<string, string>;
    assert.equal(h.host, "127.0.0.1:9");
    assert.equal(h["x-amz-security-token"], "t");
    assert.match(h.authorization!, /^AWS4-HMAC-SHA256 Credential=ASIA1\/\d{8}\/eu-west-1\/sts\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
  });
});

describe("aws credential chain", () => {
  const creds = file("aws-creds", "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = d\n\n[profile ci]\naws_access_key_id=AKIACI\naws_secret_access_key=c\naws_session_token=tok\n");
  const cases: { name: string; text: string; profile: string; want?: string }[] = [
    { name: "default profile", text: "[default]\naws_access_key_id = A\naws_secret_access_key = B\n", profile: "default", want: "A" },
    { name: "named profile, `profile` prefix and session token", text: "[profile ci]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=E\n", profile: "ci", want: "C" },
    { name: "comments and blank lines are skipped", text: "# c\n\n[x]\n; c\naws_access_key_id = X\naws_secret_access_key = Y\n", profile: "x", want: "X" },
    { name: "a profile without a secret has no credentials", text: "[y]\naws_access_key_id = X\n", profile: "y" },
    { name: "a missing profile has no credentials", text: "[default]\naws_access_key_id = A\naws_secret_access_key = B\n", profile: "nope" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(parseCredentialsFile(c.text, c.profile)?.accessKeyId, c.want));

  test("environment first, then the shared file, then IMDS; IMDS can be disabled", async () => {
    assert.equal((await resolveAwsCredentials({ AWS_ACCESS_KEY_ID: "AKIAENV", AWS_SECRET_ACCESS_KEY: "e", AWS_SHARED_CREDENTIALS_FILE: creds }, dir)).source, "environment");
    const f = await resolveAwsCredentials({ AWS_SHARED_CREDENTIALS_FILE: creds, AWS_PROFILE: "ci" }, dir);
    assert.deepEqual(f.credentials, { accessKeyId: "AKIACI", secretAccessKey: "c", sessionToken: "tok" });
    const i = await resolveAwsCredentials({ AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"), AWS_EC2_METADATA_SERVICE_ENDPOINT: meta.url }, dir);
    assert.deepEqual([i.source, i.region, i.credentials.accessKeyId], ["instance metadata", "eu-west-1", "ASIA1"]);
    await assert.rejects(resolveAwsCredentials({ AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"), AWS_EC2_METADATA_DISABLED: "true" }, dir), /AWS_EC2_METADATA_DISABLED/);
  });
});

describe("azure managed identities", () => {
  const oidSent = async (config: Record<string, string>) => {
    const { client, calls } = recordingClient();
    await createAuthMethod(AuthConfig.parse({ type: "azure", config: { "identity-id": ID, ...config } }), { env: env() }).login(client);
    const jwt = (calls[0]!.args[0] as { jwt: string }).jwt;
    return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).oid as string;
  };
  test("the system-assigned identity by default; a user-assigned one by client id, object id or resource id", async () => {
    assert.equal(await oidSent({}), "sp-1");
    assert.equal(await oidSent({ "managed-identity-client-id": "11111111-2222" }), "user-assigned:client_id=11111111-2222");
    assert.equal(await oidSent({ "managed-identity-object-id": "oid-9" }), "user-assigned:object_id=oid-9");
    const rid = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web";
    assert.equal(await oidSent({ "managed-identity-resource-id": rid }), `user-assigned:msi_res_id=${rid}`);
  });
});

test("an IMDS answer that is not JSON is named as such (a proxy's HTML page, not a token)", async () => {
  const html = createServer((_req, res) => { res.writeHead(200, { "content-type": "text/html" }); res.end("<html>proxy login</html>"); });
  await new Promise<void>((r) => html.listen(0, "127.0.0.1", r));
  try {
    const url = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
    const m = createAuthMethod(AuthConfig.parse({ type: "azure", config: { "identity-id": ID } }), { env: { AZURE_IMDS_ENDPOINT: url } });
    await assert.rejects(m.login(recordingClient().client), new RegExp(`azure: the instance metadata service at ${url} answered 200 with something that is not JSON: <html>proxy login`));
  } finally {
    await new Promise((r) => html.close(r));
  }
});

describe("bad configurations name the key", () => {
  const schemaCases: { name: string; config: unknown; error: RegExp }[] = [
    { name: "kubernetes without identity-id", config: { type: "kubernetes", config: {} }, error: /config\.identity-id/ },
    { name: "kubernetes with an unknown key", config: { type: "kubernetes", config: { "identity-id": "x", "token-path": "/t" } }, error: /token-path/ },
    { name: "gcp-iam without service-account-key", config: { type: "gcp-iam", config: { "identity-id": "x" } }, error: /service-account-key/ },
    { name: "tls-cert without private-key", config: { type: "tls-cert", config: { "identity-id": "x", certificate: "/c" } }, error: /private-key/ },
    { name: "azure with a client secret", config: { type: "azure", config: { "identity-id": "x", "client-secret": "s" } }, error: /client-secret/ },
    { name: "azure naming its managed identity twice", config: { type: "azure", config: { "identity-id": "x", "managed-identity-client-id": "a", "managed-identity-object-id": "b" } }, error: /config\.managed-identity-object-id: give one of managed-identity-client-id, managed-identity-object-id, not several/ },
    { name: "ldap-auth is not supported yet", config: { type: "ldap-auth", config: {} }, error: /auth type "ldap-auth" is not supported yet/ },
    { name: "an unknown type lists the supported ones", config: { type: "magic", config: {} }, error: /unknown auth type "magic"; supported: "universal-auth", "kubernetes", "kubernetes-auth", "azure", "azure-auth", "gcp-id-token", "gcp-iam", "aws-iam", "tls-cert"/ },
  ];
  for (const c of schemaCases)
    test(c.name, () => {
      const r = AuthConfig.safeParse(c.config);
      assert.equal(r.success, false);
      assert.match(r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"), c.error);
    });

  const factoryCases: { name: string; config: unknown; error: RegExp }[] = [
    { name: "identity-id that looks like a path but names no file", config: { type: "gcp-id-token", config: { "identity-id": "./no-such-file" } }, error: /identity-id file "\.\/no-such-file" does not exist/ },
    { name: "an empty identity-id file", config: { type: "azure", config: { "identity-id": file("empty-id", "\n") } }, error: /identity-id file .* is empty/ },
    { name: "a service-account token that is not there", config: { type: "kubernetes", config: { "identity-id": ID, "service-account-token": join(dir, "no-token") } }, error: /service-account-token: file .*no-token" does not exist/ },
    { name: "a service-account key that is not JSON", config: { type: "gcp-iam", config: { "identity-id": ID, "service-account-key": file("bad.json", "{") } }, error: /not a readable JSON key file/ },
    { name: "a JSON file that is not a service-account key", config: { type: "gcp-iam", config: { "identity-id": ID, "service-account-key": file("user.json", '{"type":"authorized_user"}') } }, error: /is not a service account key/ },
    { name: "a client certificate that is not there", config: { type: "tls-cert", config: { "identity-id": ID, certificate: join(dir, "none.crt"), "private-key": certKey } }, error: /certificate: file .* does not exist/ },
  ];
  for (const c of factoryCases) test(c.name, () => assert.throws(() => createAuthMethod(AuthConfig.parse(c.config)), c.error));

  test("the config loader's file checks point at the key", () => {
    const problems = checkAuth({ type: "tls-cert", config: { "identity-id": "./nope", certificate: join(dir, "none.crt"), "private-key": certKey } });
    assert.deepEqual(problems.map((p) => p.path.join(".")), ["auth.config.identity-id", "auth.config.certificate"]);
  });
});
