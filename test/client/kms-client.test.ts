import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { createKmsClient } from "../../src/client/kms-client.js";
import {
  KmsApiError,
  KmsNetworkError,
  KmsNotFoundError,
  KmsRateLimitError,
  KmsResponseError,
  KmsServerError,
  KmsUnauthorizedError,
  KmsValidationError,
} from "../../src/client/errors.js";
import { normalizeAddress, parseRetryAfter } from "../../src/client/http.js";

// A stub that records each request and answers from a per-test script: enough to check the wire
// shapes of api.md without our own server (end-to-end tests use the real one).
type Seen = { method: string; url: string; headers: IncomingMessage["headers"]; body: unknown };
let seen: Seen[] = [];
let reply: (req: Seen, res: ServerResponse) => void = (_req, res) => res.writeHead(500).end();
const server = createServer((req, res) => {
  let data = "";
  req.on("data", (c) => (data += c));
  req.on("end", () => {
    const s = { method: req.method!, url: req.url!, headers: req.headers, body: data ? JSON.parse(data) : undefined };
    seen.push(s);
    reply(s, res);
  });
});
let address = "";
before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_: Seen, res: ServerResponse) =>
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));

const cert = { certificate: "C", issuingCaCertificate: "I", certificateChain: "CH", privateKey: "K", serialNumber: "0a", certificateId: "cid" };

test("universal-auth login posts the credentials and returns the token response", async () => {
  seen = [];
  reply = json(200, { accessToken: "t", expiresIn: 60, accessTokenMaxTTL: 600, tokenType: "Bearer" });
  const c = createKmsClient({ address: `${address}/api/` });
  const r = await c.universalAuthLogin({ clientId: "id", clientSecret: "s" });
  assert.deepEqual(r, { accessToken: "t", expiresIn: 60, accessTokenMaxTTL: 600, tokenType: "Bearer" });
  assert.equal(seen[0]!.method, "POST");
  assert.equal(seen[0]!.url, "/api/v1/auth/universal-auth/login");
  assert.deepEqual(seen[0]!.body, { clientId: "id", clientSecret: "s" });
  assert.equal(seen[0]!.headers.authorization, undefined);
  await c.close();
});

test("token renew and revoke carry the token in the body", async () => {
  seen = [];
  reply = (req, res) => json(200, req.url.endsWith("renew") ? { accessToken: "t2", expiresIn: 60, accessTokenMaxTTL: 600 } : { message: "ok" })(req, res);
  const c = createKmsClient({ address });
  assert.equal((await c.renewToken("t1")).accessToken, "t2");
  await c.revokeToken("t2");
  assert.deepEqual(seen.map((s) => [s.url, s.body]), [["/api/v1/auth/token/renew", { accessToken: "t1" }], ["/api/v1/auth/token/revoke", { accessToken: "t2" }]]);
  await c.close();
});

test("cert-manager routes: paths, bearer token, bodies and unwrapped shapes", async () => {
  seen = [];
  reply = (req, res) => {
    const u = req.url;
    if (u.startsWith("/api/v1/projects/slug/")) return json(200, { id: "pid", slug: "my-proj", name: "x" })(req, res);
    if (u.startsWith("/api/v1/cert-manager/certificate-profiles/slug/")) return json(200, { certificateProfile: { id: "prof", slug: "web" } })(req, res);
    if (u === "/api/v1/cert-manager/certificates" && req.method === "POST") return json(200, { certificate: cert, certificateRequestId: "rid", status: "issued" })(req, res);
    if (u.endsWith("/bundle")) return json(200, { certificate: "C", certificateChain: null, privateKey: null, serialNumber: "0a" })(req, res);
    if (u.endsWith("/renew")) return json(200, { ...cert, certificateRequestId: "" })(req, res);
    if (u.includes("/certificate-requests/")) return json(200, { status: "pending", certificate: null, certificateId: null, privateKey: null, serialNumber: null, errorMessage: null })(req, res);
    return json(200, { certificate: { id: "cid", status: "active", serialNumber: "0a", commonName: "a", notAfter: "2030-01-01T00:00:00.000Z" } })(req, res);
  };
  const c = createKmsClient({ address });
  const o = { token: "tok" };
  assert.equal((await c.getProjectBySlug("my proj", o)).id, "pid");
  assert.equal((await c.getProfileBySlug("web", "pid", o)).id, "prof");
  const issued = await c.issueCertificate({ profileId: "prof", removeRootsFromChain: true, attributes: { commonName: "a", ttl: "30d" } }, o);
  assert.equal(issued.certificate?.certificateId, "cid");
  assert.equal((await c.getCertificate("cid", o)).status, "active");
  assert.equal((await c.getCertificateBundle("cid", o)).privateKey, null);
  assert.equal((await c.getCertificateRequest("rid", o)).status, "pending");
  assert.equal((await c.renewCertificate("cid", { removeRootsFromChain: false }, o)).serialNumber, "0a");
  assert.deepEqual(
    seen.map((s) => `${s.method} ${s.url}`),
    [
      "GET /api/v1/projects/slug/my%20proj",
      "GET /api/v1/cert-manager/certificate-profiles/slug/web?projectId=pid",
      "POST /api/v1/cert-manager/certificates",
      "GET /api/v1/cert-manager/certificates/cid",
      "GET /api/v1/cert-manager/certificates/cid/bundle",
      "GET /api/v1/cert-manager/certificates/certificate-requests/rid",
      "POST /api/v1/cert-manager/certificates/cid/renew",
    ],
  );
  assert.ok(seen.every((s) => s.headers.authorization === "Bearer tok"));
  assert.deepEqual(seen[2]!.body, { profileId: "prof", removeRootsFromChain: true, attributes: { commonName: "a", ttl: "30d" } });
  assert.deepEqual(seen[6]!.body, { removeRootsFromChain: false });
  await c.close();
});

test("v4 secrets return body and ETag", async () => {
  seen = [];
  reply = (req, res) =>
    req.url.startsWith("/api/v4/secrets/DB_HOST")
      ? json(200, { secret: { secretKey: "DB_HOST", secretValue: "db" } }, { etag: '"e2"' })(req, res)
      : json(200, { secrets: [{ secretKey: "A", secretValue: "1" }], imports: [] }, { etag: '"e1"' })(req, res);
  const c = createKmsClient({ address });
  const list = await c.listSecretsV4({ projectId: "p", environment: "dev", secretPath: "/app", includeImports: true, recursive: false, expandSecretReferences: true }, { token: "t" });
  assert.equal(list.etag, '"e1"');
  assert.equal(list.body.secrets[0]!.secretValue, "1");
  const one = await c.getSecretByNameV4({ projectId: "p", environment: "dev", secretName: "DB_HOST", type: "shared" }, { token: "t" });
  assert.equal(one.etag, '"e2"');
  assert.equal(one.body.secret.secretValue, "db");
  const q0 = new URL(seen[0]!.url, "http://x").searchParams;
  assert.equal(q0.get("secretPath"), "/app");
  assert.equal(q0.get("includeImports"), "true");
  assert.equal(q0.get("recursive"), "false");
  assert.equal(new URL(seen[1]!.url, "http://x").pathname, "/api/v4/secrets/DB_HOST");
  assert.equal(new URL(seen[1]!.url, "http://x").searchParams.get("secretName"), null);
  await c.close();
});

const errorCases: { name: string; status: number; body: unknown; headers?: Record<string, string>; cls: new (...a: never[]) => KmsApiError; message: string; retryAfterMs?: number; retryable: boolean }[] = [
  { name: "401", status: 401, body: { statusCode: 401, message: "Invalid credentials", error: "UnauthorizedError", reqId: "r1" }, cls: KmsUnauthorizedError, message: "Invalid credentials", retryable: false },
  { name: "404", status: 404, body: { message: "Profile not found", error: "NotFound" }, cls: KmsNotFoundError, message: "Profile not found", retryable: false },
  { name: "422 array message", status: 422, body: { message: [{ path: ["x"], message: "bad" }], error: "ValidationFailure" }, cls: KmsValidationError, message: '[{"path":["x"],"message":"bad"}]', retryable: false },
  { name: "429 with Retry-After seconds", status: 429, body: { message: "slow down" }, headers: { "retry-after": "7" }, cls: KmsRateLimitError, message: "slow down", retryAfterMs: 7_000, retryable: true },
  { name: "503 non-JSON", status: 503, body: "<html>down</html>", cls: KmsServerError, message: "<html>down</html>", retryable: true },
];
for (const c of errorCases) {
  test(`errors: ${c.name} → ${c.cls.name} with status, message, Retry-After`, async () => {
    reply = (_req, res) => res.writeHead(c.status, { "content-type": "application/json", ...c.headers }).end(typeof c.body === "string" ? c.body : JSON.stringify(c.body));
    const client = createKmsClient({ address });
    const err = await client.getCertificate("x", { token: "t" }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof c.cls, String(err));
    const e = err as KmsApiError;
    assert.equal(e.status, c.status);
    assert.equal(e.serverMessage, c.message);
    assert.equal(e.retryAfterMs, c.retryAfterMs);
    assert.equal(e.retryable, c.retryable);
    assert.ok(!e.message.includes("Bearer"));
    await client.close();
  });
}

test("Retry-After as an HTTP date", () => {
  assert.equal(parseRetryAfter("Wed, 01 Jan 2031 00:00:10 GMT", Date.UTC(2031, 0, 1)), 10_000);
  assert.equal(parseRetryAfter("garbage", 0), undefined);
  assert.equal(parseRetryAfter(undefined, 0), undefined);
});

test("an unreachable server is a retryable network error", async () => {
  const c = createKmsClient({ address: "http://127.0.0.1:1" });
  const err = await c.universalAuthLogin({ clientId: "a", clientSecret: "b" }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof KmsNetworkError);
  assert.equal((err as KmsNetworkError).retryable, true);
  assert.match((err as Error).message, /cannot reach the KMS/);
  await c.close();
});

test("a 200 with the wrong shape is a response error", async () => {
  reply = json(200, { nope: true });
  const c = createKmsClient({ address });
  await assert.rejects(c.universalAuthLogin({ clientId: "a", clientSecret: "b" }), KmsResponseError);
  await c.close();
});

test("an aborted call rejects with the abort reason", async () => {
  reply = (_req, res) => setTimeout(() => json(200, {})(_req, res), 400);
  const c = createKmsClient({ address });
  const ac = new AbortController();
  const p = c.getCertificate("x", { token: "t", signal: ac.signal });
  setTimeout(() => ac.abort(new Error("stopping")), 50);
  await assert.rejects(p, /stopping/);
  await c.close();
});

test("addresses are normalised", () => {
  assert.equal(normalizeAddress("https://kms.example.com/"), "https://kms.example.com");
  assert.equal(normalizeAddress("https://kms.example.com/api"), "https://kms.example.com");
  assert.equal(normalizeAddress("https://kms.example.com/api/"), "https://kms.example.com");
});

test("a server that does not answer in time is a retryable network error (headers timeout)", async () => {
  reply = () => {}; // never answers
  const c = createKmsClient({ address, timeoutMs: 200 });
  const err = await c.getCertificate("x", { token: "t" }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof KmsNetworkError);
  assert.match((err as Error).message, /cannot reach the KMS \(UND_ERR_HEADERS_TIMEOUT: Headers Timeout Error\)/);
  await c.close();
});

test("a body that stops arriving is a retryable network error (body timeout)", async () => {
  reply = (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"certificate":');
  };
  const c = createKmsClient({ address, timeoutMs: 200 });
  const err = await c.getCertificate("x", { token: "t" }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof KmsNetworkError);
  assert.match((err as Error).message, /UND_ERR_BODY_TIMEOUT: Body Timeout Error/);
  await c.close();
});

test("calls reuse one keep-alive connection", async () => {
  const ports = new Set<number>();
  reply = (_req, res) => json(200, { accessToken: "t", expiresIn: 60, accessTokenMaxTTL: 600 })(_req, res);
  const onConn = (s: import("node:net").Socket) => ports.add(s.remotePort!);
  server.on("connection", onConn);
  const c = createKmsClient({ address });
  for (let i = 0; i < 3; i++) await c.universalAuthLogin({ clientId: "a", clientSecret: "b" });
  server.off("connection", onConn);
  assert.equal(ports.size, 1);
  await c.close();
});

test("onExchange hears of every exchange: method, path, status or error, duration; never a token or body", async () => {
  reply = json(200, { accessToken: "secret-token", expiresIn: 60, accessTokenMaxTTL: 600, tokenType: "Bearer" });
  const heard: unknown[] = [];
  let t = 1_000;
  const c = createKmsClient({ address, onExchange: (e) => heard.push(e), now: () => (t += 5) });
  await c.universalAuthLogin({ clientId: "id", clientSecret: "client-secret" });
  await c.close();
  const down = createKmsClient({ address: "http://127.0.0.1:9", onExchange: (e) => heard.push(e), now: () => (t += 5) });
  await assert.rejects(down.universalAuthLogin({ clientId: "id", clientSecret: "s" }));
  await down.close();
  assert.deepEqual(heard[0], { method: "POST", path: "/api/v1/auth/universal-auth/login", status: 200, durationMs: 5 });
  assert.match((heard[1] as { error: string }).error, /ECONNREFUSED|connect/);
  assert.doesNotMatch(JSON.stringify(heard), /secret/);
});
