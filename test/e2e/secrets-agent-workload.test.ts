import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, KMS_BIN, startServer, type TestServer } from "../helpers/server.js";
import { startTokenReviewServer, type TokenReviewServer } from "../helpers/k8s.js";

// The secrets agent shares the certificate agent's auth methods: here `kms agent` logs in with a
// Kubernetes service-account token (no client secret on the host) and writes the token to its sink.
let server: TestServer;
let k8s: TokenReviewServer;
const dir = mkdtempSync(join(tmpdir(), "kms-agent-k8s-"));

before(async () => {
  [server, k8s] = await Promise.all([startServer(), startTokenReviewServer()]);
});
after(async () => {
  await Promise.all([server?.cleanup(), k8s?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

test("kms agent authenticates with kubernetes auth and writes its token sink (exit-after-auth)", async () => {
  const i = await api(server.address, "POST", "/api/v1/identities", { token: server.adminToken, body: { name: "k8s-agent", organizationId: server.orgId } });
  const identityId = i.body.identity.id as string;
  const attach = await api(server.address, "POST", `/api/v1/auth/kubernetes-auth/identities/${identityId}`, { token: server.adminToken, body: {
    kubernetesHost: k8s.url, caCert: k8s.caCert, tokenReviewerJwt: k8s.reviewerJwt, allowedNamespaces: "prod", allowedNames: "web", accessTokenTTL: 600,
  } });
  assert.equal(attach.status, 200, attach.text);
  k8s.add("sa-web", { namespace: "prod", name: "web" });
  writeFileSync(join(dir, "sa-token"), "sa-web");
  writeFileSync(join(dir, "identity-id"), identityId);
  writeFileSync(join(dir, "agent.yaml"), `kms:
  address: "${server.address}"
  exit-after-auth: true
auth:
  type: kubernetes
  config:
    identity-id: "${join(dir, "identity-id")}"
    service-account-token: "${join(dir, "sa-token")}"
sinks:
  - type: file
    config:
      path: "${join(dir, "token")}"
`);
  // Asynchronously: the TokenReview server lives in this process and must keep answering.
  const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [KMS_BIN, "agent", "--config", join(dir, "agent.yaml")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("exit", (status) => { clearTimeout(timer); resolve({ status, stderr }); });
  });
  assert.equal(r.status, 0, r.stderr);
  const token = readFileSync(join(dir, "token"), "utf8").trim();
  assert.equal(statSync(join(dir, "token")).mode & 0o777, 0o600);
  assert.equal((await api(server.address, "GET", "/api/v1/projects", { token })).status, 200, "the sink holds a working token");
});
