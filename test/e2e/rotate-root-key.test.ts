import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { rootKeyring } from "../../src/crypto/envelope.js";
import { api, login, startServer, type TestServer } from "../helpers/server.js";
import { setupPki, type PkiFixture } from "../helpers/pki.js";
import { spawnKms } from "../helpers/kms-process.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";
import { setSecret } from "./secrets-agent-harness.js";

/**
 * `kms rotate-root-key`: the data moves to a new root key (project data keys and auth-method secrets re-sealed
 * in one transaction); the server then starts with the new key only, reads every secret and issues; a running
 * server, a missing new key or a database in use refuse it; an interrupted rotation is finished by a rerun.
 */
const rotate = (args: string[], env: Record<string, string> = {}) => {
  const p = spawnKms(["rotate-root-key", ...args], env);
  return p.exited.then(({ code }) => ({ code, out: p.output() }));
};

/** A project with a secret, a PKI with a profile, and a Kubernetes auth method holding a reviewer JWT (root-sealed). */
const populate = async (s: TestServer) => {
  const f = await setupPki(s, { projectSlug: "rotated-pki" });
  const p = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "rotated", slug: "rotated-app", type: "secret-manager" } });
  assert.equal(p.status, 200, p.text);
  await setSecret(s, p.body.project.id, "API_KEY", "rotate-me-93ab");
  const k8s = await api(s.address, "POST", `/api/v1/auth/kubernetes-auth/identities/${f.identityId}`, {
    token: s.adminToken, body: { kubernetesHost: "https://127.0.0.1:6443", tokenReviewerJwt: "reviewer-jwt-7f3e", allowedNamespaces: "default" },
  });
  assert.equal(k8s.status, 200, k8s.text);
  return f;
};

/** After a rotation: the secret reads, the CA issues, and the restarted server refuses the old key. */
const usable = async (s: TestServer, f: PkiFixture, adminToken: string) => {
  const secrets = await api(s.address, "GET", "/api/v3/secrets/raw?workspaceSlug=rotated-app&environment=dev", { token: adminToken });
  assert.equal(secrets.status, 200, secrets.text);
  assert.equal(secrets.body.secrets.find((x: { secretKey: string }) => x.secretKey === "API_KEY")?.secretValue, "rotate-me-93ab");
  const token = await login(s.address, f.clientId, f.clientSecret);
  const issued = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token, body: { profileId: f.profileId, attributes: { commonName: "r.example.com", keyAlgorithm: "EC_prime256v1", ttl: "1d" } } });
  assert.equal(issued.status, 200, issued.text);
};

describe("kms rotate-root-key, SQLite with the key file", () => {
  let s: TestServer;
  let f: PkiFixture;
  let adminToken = "";
  before(async () => {
    s = await startServer();
    adminToken = s.adminToken;
    f = await populate(s);
  });
  after(async () => s?.cleanup());

  test("refused while the server runs; nothing changes", async () => {
    const keyBefore = readFileSync(join(s.dataDir, "root.key"), "utf8");
    const r = await rotate(["--data-dir", s.dataDir]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /kms rotate-root-key: data directory .* is in use by another kms server/);
    assert.equal(readFileSync(join(s.dataDir, "root.key"), "utf8"), keyBefore);
    assert.equal(existsSync(join(s.dataDir, "root.key.next")), false);
  });

  test("rotated: a new key file, everything root-sealed re-sealed, the server reads and issues with it", async () => {
    await s.stop();
    const oldKey = Buffer.from(readFileSync(join(s.dataDir, "root.key"), "utf8").trim(), "base64");
    const r = await rotate(["--data-dir", s.dataDir]);
    assert.equal(r.code, 0, r.out);
    const old = rootKeyring(oldKey);
    assert.match(r.out, new RegExp(`root key rotated: fingerprint ${old.fingerprint} -> [0-9a-f]{16} \\(re-sealed: \\d+ project data keys, 1 auth-method secret\\)`));
    assert.match(r.out, /backups taken before now still need the old key/);
    const newKey = Buffer.from(readFileSync(join(s.dataDir, "root.key"), "utf8").trim(), "base64");
    assert.equal(newKey.length, 32);
    assert.ok(!newKey.equals(oldKey));
    assert.equal(statSync(join(s.dataDir, "root.key")).mode & 0o777, 0o600);
    assert.equal(existsSync(join(s.dataDir, "root.key.next")), false);
    // The auth method's reviewer JWT opens with the new key, no longer with the old one.
    const db = new BetterSqlite3(join(s.dataDir, "kms.sqlite"), { readonly: true });
    try {
      const row = db.prepare("SELECT id, encrypted_secrets FROM identity_workload_auths WHERE encrypted_secrets IS NOT NULL").get() as { id: string; encrypted_secrets: string };
      assert.match(rootKeyring(newKey).open(row.encrypted_secrets, `workload-auth:${row.id}`).toString(), /reviewer-jwt-7f3e/);
      assert.throws(() => old.open(row.encrypted_secrets, `workload-auth:${row.id}`));
    } finally {
      db.close();
    }
    await s.restart();
    await usable(s, f, adminToken);
  });

  test("interrupted after the database moved: the server says so, a rerun finishes, nothing is lost", async () => {
    await s.stop();
    const keyFile = join(s.dataDir, "root.key");
    const before = readFileSync(keyFile);
    const r = await rotate(["--data-dir", s.dataDir]);
    assert.equal(r.code, 0, r.out);
    // As if the process died between the database commit and the file swap.
    renameSync(keyFile, join(s.dataDir, "root.key.next"));
    writeFileSync(keyFile, before, { mode: 0o600 });
    const refused = spawnKms(["server", "--port", "0", "--data-dir", s.dataDir, "--log-level", "warn"]);
    assert.equal((await refused.exited).code, 1, refused.output());
    assert.match(refused.output(), /root\.key\.next is there: a `kms rotate-root-key` was interrupted; run it again to finish it/);
    const again = await rotate(["--data-dir", s.dataDir]);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /finished an interrupted rotation/);
    await s.restart();
    await usable(s, f, adminToken);
  });
});

describe("kms rotate-root-key on PostgreSQL, keys in KMS_ENCRYPTION_KEY", () => {
  let s: TestServer | undefined;
  let database: ReturnType<typeof createPgDatabase> | undefined;
  after(async () => {
    await s?.cleanup();
    database?.drop();
  });

  test("refused while a server is connected, or without KMS_NEW_ENCRYPTION_KEY; then rotated, and only the new key starts the server", async (t) => {
    if (!(await needService(t, "postgres"))) return;
    database = createPgDatabase();
    const oldKey = randomBytes(32).toString("base64");
    const newKey = randomBytes(32).toString("base64");
    s = await startServer({ databaseUrl: database.url, env: { KMS_ENCRYPTION_KEY: oldKey } });
    const adminToken = s.adminToken;
    const f = await populate(s);
    const args = ["--data-dir", s.dataDir, "--database-url", database.url];
    const busy = await rotate(args, { KMS_ENCRYPTION_KEY: oldKey, KMS_NEW_ENCRYPTION_KEY: newKey });
    assert.equal(busy.code, 1, busy.out);
    assert.match(busy.out, /other session\(s\) use this PostgreSQL database: stop every kms server on it first/);
    await s.stop();
    const noNew = await rotate(args, { KMS_ENCRYPTION_KEY: oldKey });
    assert.equal(noNew.code, 1, noNew.out);
    assert.match(noNew.out, /KMS_NEW_ENCRYPTION_KEY: required when the current key comes from KMS_ENCRYPTION_KEY/);
    const r = await rotate(args, { KMS_ENCRYPTION_KEY: oldKey, KMS_NEW_ENCRYPTION_KEY: newKey });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /set KMS_ENCRYPTION_KEY to the new key/);
    const withOld = spawnKms(["server", "--port", "0", "--data-dir", s.dataDir, "--database-url", database.url, "--log-level", "warn"], { KMS_ENCRYPTION_KEY: oldKey });
    assert.equal((await withOld.exited).code, 1, withOld.output());
    assert.match(withOld.output(), /is not the one this database was written with/);
    const again = await startServer({ databaseUrl: database.url, dataDir: s.dataDir, bootstrap: false, env: { KMS_ENCRYPTION_KEY: newKey } });
    try {
      await usable(again, f, adminToken);
    } finally {
      await again.stop();
    }
  });
});
