import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { api, login, startServer, type TestServer } from "../helpers/server.js";
import { setupPki, type PkiFixture } from "../helpers/pki.js";
import { spawnKms } from "../helpers/kms-process.js";
import { setSecret } from "./secrets-agent-harness.js";

/**
 * `kms backup`: a consistent copy of the SQLite database taken while the server runs and issues, which a new
 * server restores with the root key kept apart (and refuses without it); never an overwrite, never a half file.
 */
describe("kms backup (SQLite, server running)", () => {
  let s: TestServer;
  let f: PkiFixture;
  let token = "";
  const work = mkdtempSync(join(tmpdir(), "kms-backup-"));
  const backup = (args: string[]) => {
    const p = spawnKms(["backup", ...args]);
    return p.exited.then(({ code }) => ({ code, out: p.output() }));
  };
  const issue = () => api(s.address, "POST", "/api/v1/cert-manager/certificates", {
    token, body: { profileId: f.profileId, attributes: { commonName: "b.example.com", altNames: [{ type: "dns_name", value: "b.example.com" }], keyAlgorithm: "EC_prime256v1", ttl: "1d" } },
  });
  const count = async (server: TestServer) =>
    (await api(server.address, "GET", `/api/v1/cert-manager/certificates?projectId=${f.projectId}&limit=1`, { token: server.adminToken })).body.totalCount as number;

  before(async () => {
    s = await startServer();
    f = await setupPki(s, { projectSlug: "backed-up" });
    token = await login(s.address, f.clientId, f.clientSecret);
    const p = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "app", slug: "app-secrets", type: "secret-manager" } });
    assert.equal(p.status, 200, p.text);
    await setSecret(s, p.body.project.id, "DB_PASSWORD", "backup-me-5f2c");
  });
  after(async () => {
    await s?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  test("taken under load; restored beside the root key it has everything committed before it began; without the key it is refused", async () => {
    const before = await count(s);
    // Issuance keeps writing while the backup runs.
    let stop = false;
    let issued = 0;
    const load = (async () => { while (!stop) if ((await issue()).status === 200) issued++; })();
    await new Promise((r) => setTimeout(r, 200));
    const out = join(work, "kms-backup.sqlite");
    const b = await backup(["--data-dir", s.dataDir, "--out", out]);
    stop = true;
    await load;
    assert.equal(b.code, 0, b.out);
    assert.match(b.out, /backup written: .*kms-backup\.sqlite \(\d+ bytes, schema \d{3}_\w+\)/);
    assert.match(b.out, /the root key is not in it \(fingerprint [0-9a-f]+\): keep root\.key or KMS_ENCRYPTION_KEY apart from it/);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.ok(issued > 0, "issuance ran during the backup");
    const after = await count(s);
    const rootKey = readFileSync(join(s.dataDir, "root.key"));
    assert.ok(!readFileSync(out).includes(rootKey.subarray(0, 20)), "the root key is not in the backup");
    assert.ok(!readFileSync(out).includes("backup-me-5f2c"), "secret values stay sealed in the backup");

    // Restore: the copy as kms.sqlite, the root key beside it.
    const restoredDir = join(work, "restored");
    const restoreTo = (dir: string, key: Buffer | undefined) => {
      mkdirSync(dir, { mode: 0o700 });
      copyFileSync(out, join(dir, "kms.sqlite"));
      if (key) writeFileSync(join(dir, "root.key"), key, { mode: 0o600 });
    };
    restoreTo(restoredDir, rootKey);
    const r = await startServer({ dataDir: restoredDir, bootstrap: false });
    try {
      const restored = { ...r, adminToken: s.adminToken } as TestServer;
      const n = await count(restored);
      assert.ok(n >= before && n <= after, `restored ${n} certificates; ${before} before the backup, ${after} after`);
      const secrets = await api(r.address, "GET", `/api/v3/secrets/raw?workspaceSlug=app-secrets&environment=dev`, { token: s.adminToken });
      assert.equal(secrets.status, 200, secrets.text);
      assert.equal(secrets.body.secrets.find((x: { secretKey: string }) => x.secretKey === "DB_PASSWORD")?.secretValue, "backup-me-5f2c");
      // The CA's sealed private key opens too: the restored server issues.
      const t = await login(r.address, f.clientId, f.clientSecret);
      const issuedThere = await api(r.address, "POST", "/api/v1/cert-manager/certificates", { token: t, body: { profileId: f.profileId, attributes: { commonName: "r.example.com", keyAlgorithm: "EC_prime256v1", ttl: "1d" } } });
      assert.equal(issuedThere.status, 200, issuedThere.text);
    } finally {
      await r.stop();
    }

    // Without its key (a new one would be made), the restored database is refused, not silently unreadable.
    const keyless = join(work, "keyless");
    restoreTo(keyless, undefined);
    const k = spawnKms(["server", "--port", "0", "--data-dir", keyless, "--log-level", "warn"]);
    assert.equal((await k.exited).code, 1, k.output());
    assert.match(k.output(), /is not the one this database was written with/);
  });

  test("refused, nothing written: an existing --out, a data directory without a database, a PostgreSQL URL", async () => {
    const existing = join(work, "existing.sqlite");
    writeFileSync(existing, "keep me");
    const e = await backup(["--data-dir", s.dataDir, "--out", existing]);
    assert.equal(e.code, 1, e.out);
    assert.match(e.out, /kms backup: --out: .*existing\.sqlite already exists; a backup never overwrites a file/);
    assert.equal(readFileSync(existing, "utf8"), "keep me");
    const empty = mkdtempSync(join(work, "empty-"));
    const m = await backup(["--data-dir", empty, "--out", join(work, "none.sqlite")]);
    assert.equal(m.code, 1, m.out);
    assert.match(m.out, /--data-dir: .*kms\.sqlite does not exist/);
    assert.equal(existsSync(join(work, "none.sqlite")), false);
    const pg = await backup(["--database-url", "postgres://127.0.0.1/kms", "--out", join(work, "pg.sqlite")]);
    assert.equal(pg.code, 1, pg.out);
    assert.match(pg.out, /pg_dump/);
  });
});
