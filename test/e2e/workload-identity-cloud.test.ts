import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AuthConfig, createAuthMethod } from "../../src/agent/auth/index.js";
import type { AuthDeps } from "../../src/agent/auth/index.js";
import { signGetCallerIdentity } from "../../src/agent/auth/aws-sigv4.js";
import { createKmsClient, type KmsClient } from "../../src/client/kms-client.js";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { startTokenReviewServer, type TokenReviewServer } from "../helpers/k8s.js";
import { startStsServer, type StsServer } from "../helpers/sts.js";
import { newIssuer, newServiceAccount, startKeyServer, type JwksIssuer, type KeyServer } from "../helpers/jwks.js";
import { startMetadataServer, type MetadataServer } from "../helpers/imds.js";

/**
 * Kubernetes, AWS, GCP and Azure auth end to end: a real `kms server`, the agent's auth methods, and local servers
 * speaking each protocol (TokenReview over HTTPS, an STS verifying SigV4, JWKS/x509 key endpoints, metadata servers).
 */

let server: TestServer;
let client: KmsClient;
let k8s: TokenReviewServer;
let sts: StsServer;
let keys: KeyServer;
let meta: MetadataServer;
let google: JwksIssuer;
let forger: JwksIssuer;
let azure: JwksIssuer;
const dir = mkdtempSync(join(tmpdir(), "kms-wi-cloud-"));
const sa = newServiceAccount("builder@proj-a.iam.gserviceaccount.com", "k1");
const otherSa = newServiceAccount("other@proj-a.iam.gserviceaccount.com", "k9");
const imposter = newServiceAccount("builder@proj-a.iam.gserviceaccount.com", "k1");
const ACCOUNT = "123456789012";
const gceClaims = (over: Record<string, unknown> = {}) => ({
  email: "web@proj-a.iam.gserviceaccount.com", email_verified: true,
  google: { compute_engine: { project_id: "proj-a", zone: "us-central1-a", instance_id: "42", instance_name: "web-1", ...over } },
});

before(async () => {
  google = await newIssuer("g1");
  forger = await newIssuer("g1");
  azure = await newIssuer("a1");
  [server, k8s, sts] = await Promise.all([startServer(), startTokenReviewServer(), startStsServer()]);
  keys = await startKeyServer({ google: [google], azure: { "tenant-1": [azure] }, serviceAccounts: [sa, otherSa] });
  meta = await startMetadataServer({
    gce: { signer: google, claims: () => gceClaims() },
    azure: { signer: azure, claims: () => ({ iss: "https://sts.windows.net/tenant-1/", tid: "tenant-1", oid: "sp-1", appid: "app-1" }) },
    aws: { role: "app-web", accessKeyId: "ASIAIMDS", secretAccessKey: "imds-secret", token: "imds-session", region: "us-east-1" },
  });
  client = createKmsClient({ address: server.address });
});

after(async () => {
  await client?.close();
  await Promise.all([server?.cleanup(), k8s?.close(), sts?.close(), keys?.close(), meta?.close()]);
});

const newIdentity = async (name: string): Promise<string> => {
  const r = await api(server.address, "POST", "/api/v1/identities", { token: server.adminToken, body: { name, organizationId: server.orgId } });
  assert.equal(r.status, 200, r.text);
  return r.body.identity.id;
};
const attach = async (slug: string, identityId: string, body: Record<string, unknown>) => {
  const r = await api(server.address, "POST", `/api/v1/auth/${slug}/identities/${identityId}`, { token: server.adminToken, body: { accessTokenTTL: 600, ...body } });
  assert.equal(r.status, 200, r.text);
  return r.body;
};
const refused = async (slug: string, body: Record<string, unknown>, reason: RegExp) => {
  const r = await api(server.address, "POST", `/api/v1/auth/${slug}/login`, { body });
  assert.equal(r.status, 401, r.text);
  assert.equal(r.body.error, "UnauthorizedError");
  assert.match(r.body.message, reason);
};
/** Logs in with the agent's method built from a seed-style config, and proves the token works by renewing it. */
const agentLogin = async (config: unknown, deps: AuthDeps = {}): Promise<void> => {
  const method = createAuthMethod(AuthConfig.parse(config), deps);
  const t = await method.login(client);
  assert.equal(t.expiresIn, 600);
  const renewed = await client.renewToken(t.accessToken);
  assert.equal(renewed.accessToken, t.accessToken);
};
const file = (name: string, content: string) => { const p = join(dir, name); writeFileSync(p, content); return p; };

describe("kubernetes auth", () => {
  let id: string;
  before(async () => {
    id = await newIdentity("k8s-web");
    const body = await attach("kubernetes-auth", id, {
      kubernetesHost: k8s.url, caCert: k8s.caCert, tokenReviewerJwt: k8s.reviewerJwt, allowedNamespaces: "prod, staging", allowedNames: "web", allowedAudience: "kms",
    });
    assert.equal(body.identityKubernetesAuth.tokenReviewerJwtSet, true);
    assert.equal(body.identityKubernetesAuth.tokenReviewerJwt, undefined, "the reviewer JWT never leaves the server");
    k8s.add("sa-good", { namespace: "prod", name: "web", audiences: ["kms"] });
    k8s.add("sa-wrong-ns", { namespace: "dev", name: "web", audiences: ["kms"] });
    k8s.add("sa-wrong-name", { namespace: "prod", name: "db", audiences: ["kms"] });
    k8s.add("sa-wrong-aud", { namespace: "prod", name: "web", audiences: ["https://kubernetes.default.svc"] });
    k8s.add("sa-expired", { namespace: "prod", name: "web", audiences: ["kms"], expired: true });
  });

  test("the agent logs in with both spellings, identity-id as a file, service-account-token and -token-path", async () => {
    const token = file("sa-token", "sa-good\n");
    const idFile = file("k8s-identity-id", `${id}\n`);
    await agentLogin({ type: "kubernetes", config: { "identity-id": idFile, "service-account-token": token } });
    await agentLogin({ type: "kubernetes-auth", config: { "identity-id": id, "service-account-token-path": token } });
    const review = k8s.reviews.at(-1) as { spec: { token: string; audiences: string[] } };
    assert.deepEqual(review.spec, { token: "sa-good", audiences: ["kms"] });
  });

  for (const [name, token, reason] of [
    ["wrong namespace", "sa-wrong-ns", /namespace "dev" is not allowed/],
    ["wrong service account", "sa-wrong-name", /service account "db" is not allowed/],
    ["wrong audience", "sa-wrong-aud", /token audiences \["https:\/\/kubernetes.default.svc"\] is invalid for the target audiences \["kms"\]/],
    ["expired token", "sa-expired", /service account token has expired/],
    ["bad signature (the API server does not know the token)", "forged", /did not authenticate the token/],
  ] as const)
    test(`refused: ${name}`, () => refused("kubernetes-auth", { identityId: id, jwt: token }, reason));

  test("refused: a reviewer JWT the API server rejects; an API server whose CA is not configured", async () => {
    const bad = await newIdentity("k8s-bad-reviewer");
    await attach("kubernetes-auth", bad, { kubernetesHost: k8s.url, caCert: k8s.caCert, tokenReviewerJwt: "not-the-reviewer" });
    await refused("kubernetes-auth", { identityId: bad, jwt: "sa-good" }, /refused the TokenReview \(401\)/);
    const noCa = await newIdentity("k8s-no-ca");
    await attach("kubernetes-auth", noCa, { kubernetesHost: k8s.url, tokenReviewerJwt: k8s.reviewerJwt });
    await refused("kubernetes-auth", { identityId: noCa, jwt: "sa-good" }, /could not reach the Kubernetes API .*certificate/);
  });

  test("refusals are audited with the reason", async () => {
    const r = await api(server.address, "GET", "/api/v1/organization/audit-logs?eventType=kubernetes-auth-login-failed&limit=50", { token: server.adminToken });
    assert.equal(r.status, 200, r.text);
    const reasons = r.body.auditLogs.map((l: { metadata: { reason: string } }) => l.metadata.reason).join("\n");
    assert.match(reasons, /namespace "dev" is not allowed/);
    assert.doesNotMatch(JSON.stringify(r.body), /sa-wrong-ns/, "tokens are never logged");
  });
});

describe("aws iam auth", () => {
  let id: string;
  const env = (extra: Record<string, string>) => ({ AWS_ENDPOINT_URL_STS: sts.url, AWS_REGION: "us-east-1", AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"), ...extra });
  before(async () => {
    id = await newIdentity("aws-web");
    await attach("aws-auth", id, { stsEndpoint: sts.url, allowedAccountIds: ACCOUNT, allowedPrincipalArns: `arn:aws:iam::${ACCOUNT}:user/ci, arn:aws:iam::${ACCOUNT}:role/app-*` });
    sts.add("AKIDENV", { secretAccessKey: "env-secret", arn: `arn:aws:iam::${ACCOUNT}:user/ci`, account: ACCOUNT, userId: "AIDAENV" });
    sts.add("AKIDFILE", { secretAccessKey: "file-secret", arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-web/i-0abc`, account: ACCOUNT, userId: "AROAFILE:i-0abc" });
    sts.add("ASIAIMDS", { secretAccessKey: "imds-secret", sessionToken: "imds-session", arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-web/i-0def`, account: ACCOUNT, userId: "AROAIMDS" });
    sts.add("AKIDOTHER", { secretAccessKey: "other-secret", arn: "arn:aws:iam::999999999999:user/ci", account: "999999999999", userId: "AIDAOTHER" });
    sts.add("AKIDINTRUDER", { secretAccessKey: "intruder-secret", arn: `arn:aws:iam::${ACCOUNT}:user/intruder`, account: ACCOUNT, userId: "AIDAINTR" });
  });
  const config = { type: "aws-iam", config: { "identity-id": "" } };
  const cfg = () => ({ ...config, config: { "identity-id": id } });

  test("the agent logs in with credentials from the environment", () => agentLogin(cfg(), { env: env({ AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret" }) }));

  test("the agent logs in with a profile of the shared credentials file; an assumed-role ARN matches role/app-*", () => {
    const creds = file("aws-credentials", `[default]\naws_access_key_id = AKIDNONE\naws_secret_access_key = x\n\n[ci]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n`);
    return agentLogin(cfg(), { env: env({ AWS_SHARED_CREDENTIALS_FILE: creds, AWS_PROFILE: "ci" }) });
  });

  test("the agent logs in with IMDSv2 role credentials and their session token", async () => {
    const before = meta.hits.length;
    await agentLogin(cfg(), { env: env({ AWS_EC2_METADATA_SERVICE_ENDPOINT: meta.url }) });
    assert.deepEqual(meta.hits.slice(before, before + 2), ["PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/"]);
  });

  const signed = (akid: string, secret: string, at = Date.now()) =>
    signGetCallerIdentity(sts.url, "us-east-1", { accessKeyId: akid, secretAccessKey: secret }, new Date(at));

  test("refused: bad signature (wrong secret key)", async () =>
    refused("aws-auth", { identityId: id, ...(await signed("AKIDENV", "not-the-secret")) }, /SignatureDoesNotMatch/));
  test("refused: wrong account", async () =>
    refused("aws-auth", { identityId: id, ...(await signed("AKIDOTHER", "other-secret")) }, /account 999999999999 is not allowed/));
  test("refused: wrong principal", async () =>
    refused("aws-auth", { identityId: id, ...(await signed("AKIDINTRUDER", "intruder-secret")) }, /principal arn:aws:iam::123456789012:user\/intruder is not allowed/));
  test("refused: expired signature (signed 20 minutes ago)", async () =>
    refused("aws-auth", { identityId: id, ...(await signed("AKIDENV", "env-secret", Date.now() - 20 * 60_000)) }, /Signature expired/));
  for (const [what, json] of [["null", "null"], ["an array", "[1]"], ["a string", '"x"']] as const)
    test(`refused, naming the field: iamRequestHeaders holding ${what} instead of a JSON object`, async () => {
      const s = await signed("AKIDENV", "env-secret");
      await refused("aws-auth", { identityId: id, ...s, iamRequestHeaders: Buffer.from(json).toString("base64") }, /iamRequestHeaders is not base64 of a JSON object/);
    });
  for (const method of ["GET", "DELETE"])
    test(`refused, naming the field: iamHttpRequestMethod ${method}`, async () => {
      const s = await signed("AKIDENV", "env-secret");
      await refused("aws-auth", { identityId: id, ...s, iamHttpRequestMethod: method }, new RegExp(`iamHttpRequestMethod: "${method}" is not supported`));
    });
  test("refused: a signed request that is not GetCallerIdentity", async () => {
    const s = await signed("AKIDENV", "env-secret");
    await refused("aws-auth", { identityId: id, ...s, iamRequestBody: Buffer.from("Action=AssumeRole&Version=2011-06-15").toString("base64") }, /not sts:GetCallerIdentity/);
  });
});

describe("gcp auth, gce", () => {
  let id: string;
  before(async () => {
    id = await newIdentity("gce-web");
    await attach("gcp-auth", id, {
      type: "gce", jwksUrl: keys.googleJwksUrl, allowedServiceAccounts: "web@proj-a.iam.gserviceaccount.com", allowedProjects: "proj-a", allowedZones: "us-central1-a",
    });
  });
  const token = (claims: Record<string, unknown>, o: { expiresIn?: number; signer?: JwksIssuer } = {}) =>
    (o.signer ?? google).sign({ iss: "https://accounts.google.com", aud: id, ...gceClaims(), ...claims }, o);

  test("the agent logs in with an identity token from the metadata server (audience = identity id)", () =>
    agentLogin({ type: "gcp-id-token", config: { "identity-id": id } }, { env: { GCE_METADATA_HOST: meta.hostPort } }));

  test("refused: wrong audience", async () => refused("gcp-auth", { identityId: id, jwt: await token({ aud: "someone-else" }) }, /wrong audience/));
  test("refused: expired token", async () => refused("gcp-auth", { identityId: id, jwt: await token({}, { expiresIn: -120 }) }, /has expired/));
  test("refused: bad signature (same kid, another key)", async () => refused("gcp-auth", { identityId: id, jwt: await token({}, { signer: forger }) }, /bad signature/));
  test("refused: wrong zone", async () => refused("gcp-auth", { identityId: id, jwt: await token(gceClaims({ zone: "europe-west1-b" })) }, /zone "europe-west1-b" is not allowed/));
  test("refused: wrong project", async () => refused("gcp-auth", { identityId: id, jwt: await token(gceClaims({ project_id: "proj-b" })) }, /project "proj-b" is not allowed/));
  test("refused: wrong service account", async () =>
    refused("gcp-auth", { identityId: id, jwt: await token({ email: "intruder@proj-a.iam.gserviceaccount.com" }) }, /service account intruder@proj-a.iam.gserviceaccount.com is not allowed/));
});

describe("gcp auth, iam", () => {
  let id: string;
  before(async () => {
    id = await newIdentity("gcp-builder");
    await attach("gcp-auth", id, { type: "iam", serviceAccountKeysUrl: keys.serviceAccountKeysUrl, allowedServiceAccounts: `${sa.email}, ghost@proj-a.iam.gserviceaccount.com`, allowedProjects: "proj-a" });
  });
  const jwt = (signer: { sign: typeof sa.sign }, email: string, o: { expiresIn?: number; aud?: string } = {}) => signer.sign({ iss: email, sub: email, aud: o.aud ?? id }, o);

  test("the agent logs in with a JWT signed by the service-account key file", () =>
    agentLogin({ type: "gcp-iam", config: { "identity-id": id, "service-account-key": sa.keyFile } }));

  test("refused: bad signature (a key the account never published, same key id)", async () => refused("gcp-auth", { identityId: id, jwt: await jwt(imposter, sa.email) }, /bad signature/));
  test("refused: expired token", async () => refused("gcp-auth", { identityId: id, jwt: await jwt(sa, sa.email, { expiresIn: -120 }) }, /has expired/));
  test("refused: wrong audience", async () => refused("gcp-auth", { identityId: id, jwt: await jwt(sa, sa.email, { aud: "another-identity" }) }, /wrong audience/));
  test("refused before any key is fetched: a service account outside the allow-list (validly signed by it)", async () => {
    await refused("gcp-auth", { identityId: id, jwt: await jwt(otherSa, otherSa.email) }, /service account other@proj-a.iam.gserviceaccount.com is not allowed/);
    // An unauthenticated caller must not make the server fetch (and cache) keys for any account it names.
    assert.ok(!keys.requests.some((p) => p.includes(otherSa.email)), keys.requests.join("\n"));
  });
  test("refused: a service account Google does not know", async () =>
    refused("gcp-auth", { identityId: id, jwt: await jwt(sa, "ghost@proj-a.iam.gserviceaccount.com") }, /answered 404/));
});

describe("azure auth", () => {
  let id: string;
  const RESOURCE = "https://kms.example.com/";
  before(async () => {
    id = await newIdentity("azure-web");
    await attach("azure-auth", id, { tenantId: "tenant-1", resource: RESOURCE, allowedServicePrincipalIds: "sp-1", jwksUrl: keys.azureJwksUrl("tenant-1") });
  });
  const token = (claims: Record<string, unknown>, o: { expiresIn?: number; signer?: JwksIssuer } = {}) =>
    (o.signer ?? azure).sign({ iss: "https://sts.windows.net/tenant-1/", aud: RESOURCE, tid: "tenant-1", oid: "sp-1", ...claims }, o);

  test("the agent logs in with a managed-identity token from IMDS (azure and azure-auth)", async () => {
    const env = { AZURE_IMDS_ENDPOINT: meta.url };
    await agentLogin({ type: "azure", config: { "identity-id": id, resource: RESOURCE } }, { env });
    await agentLogin({ type: "azure-auth", config: { "identity-id": id, resource: RESOURCE } }, { env });
  });

  test("refused: wrong audience (the agent's default resource, not the identity's)", async () => {
    const method = createAuthMethod(AuthConfig.parse({ type: "azure", config: { "identity-id": id } }), { env: { AZURE_IMDS_ENDPOINT: meta.url } });
    await assert.rejects(method.login(client), /wrong audience/);
  });
  test("refused: expired token", async () => refused("azure-auth", { identityId: id, jwt: await token({}, { expiresIn: -120 }) }, /has expired/));
  test("refused: bad signature", async () => refused("azure-auth", { identityId: id, jwt: await token({}, { signer: forger }) }, /bad signature/));
  test("refused: wrong service principal", async () => refused("azure-auth", { identityId: id, jwt: await token({ oid: "sp-2" }) }, /service principal sp-2 is not allowed/));
  test("refused: another tenant's issuer", async () => refused("azure-auth", { identityId: id, jwt: await token({ iss: "https://sts.windows.net/tenant-2/" }) }, /wrong issuer/));
});

describe("a key endpoint that fails is named in the refusal", () => {
  test("azure: a jwksUrl that answers 404", async () => {
    const id = await newIdentity("azure-bad-jwks");
    const url = `${keys.url}/no-such-tenant/keys`;
    await attach("azure-auth", id, { tenantId: "tenant-1", resource: "https://kms.example.com/", jwksUrl: url });
    const jwt = await azure.sign({ iss: "https://sts.windows.net/tenant-1/", aud: "https://kms.example.com/", tid: "tenant-1", oid: "sp-1" });
    await refused("azure-auth", { identityId: id, jwt }, new RegExp(`could not fetch the signing keys from ${url.replace(/[.]/g, "\\.")}: .*404`));
  });
  test("gcp gce: a jwksUrl nothing listens on", async () => {
    const id = await newIdentity("gce-bad-jwks");
    // A port that was free a moment ago: nothing answers there (fetch refuses low ports such as 1 outright).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await attach("gcp-auth", id, { type: "gce", jwksUrl: `http://127.0.0.1:${port}/certs` });
    const jwt = await google.sign({ iss: "https://accounts.google.com", aud: id, ...gceClaims() });
    await refused("gcp-auth", { identityId: id, jwt }, new RegExp(`could not fetch the signing keys from http://127\\.0\\.0\\.1:${port}/certs: ECONNREFUSED`));
  });
});

test("kubernetes: a caCert that is not a PEM certificate is refused when attached, naming the field", async () => {
  const id = await newIdentity("k8s-bad-ca");
  const r = await api(server.address, "POST", `/api/v1/auth/kubernetes-auth/identities/${id}`, {
    token: server.adminToken, body: { kubernetesHost: k8s.url, caCert: "-----BEGIN CERTIFICATE-----\nnot base64 DER\n-----END CERTIFICATE-----\n" },
  });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.message, /^caCert: /);
  assert.equal((await api(server.address, "GET", `/api/v1/auth/kubernetes-auth/identities/${id}`, { token: server.adminToken })).status, 404, "nothing was attached");
});

test("attach, read, update and detach follow api.md 2.6; bad settings are named", async () => {
  const id = await newIdentity("crud");
  const t = server.adminToken;
  const path = `/api/v1/auth/aws-auth/identities/${id}`;
  let r = await api(server.address, "POST", path, { token: t, body: { allowedAccountIds: "12345" } });
  assert.equal(r.status, 400);
  assert.match(r.body.message, /allowedAccountIds: "12345" is not a 12-digit AWS account id/);
  r = await api(server.address, "POST", path, { token: t, body: {} });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.identityAwsAuth.stsEndpoint, "https://sts.amazonaws.com/");
  assert.equal(r.body.identityAwsAuth.accessTokenTTL, 2592000);
  r = await api(server.address, "POST", path, { token: t, body: {} });
  assert.equal(r.status, 400);
  assert.match(r.body.message, /already attached/);
  r = await api(server.address, "PATCH", path, { token: t, body: { allowedAccountIds: ACCOUNT, accessTokenTTL: 60 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.identityAwsAuth.allowedAccountIds, ACCOUNT);
  assert.equal(r.body.identityAwsAuth.stsEndpoint, "https://sts.amazonaws.com/", "PATCH keeps what it does not name");
  assert.equal((await api(server.address, "GET", path, { token: t })).body.identityAwsAuth.accessTokenTTL, 60);
  r = await api(server.address, "POST", `/api/v1/auth/gcp-auth/identities/${id}`, { token: t, body: {} });
  assert.equal(r.status, 400);
  assert.match(r.body.message, /type: is required/);
  r = await api(server.address, "POST", `/api/v1/auth/kubernetes-auth/identities/${id}`, { token: t, body: { tokenReviewMode: "gateway", kubernetesHost: "https://k" } });
  assert.match(r.body.message, /gateway/);
  assert.equal((await api(server.address, "DELETE", path, { token: t })).status, 200);
  assert.equal((await api(server.address, "GET", path, { token: t })).status, 404);
  await refused("aws-auth", { identityId: id, iamRequestBody: "eA==", iamRequestHeaders: "e30=" }, /AWS auth is not attached to identity/);
});
