import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { api, startServer } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { authYaml, makeFixture, spawnAgent, until, writeConfig } from "./secrets-agent-harness.js";
import type { AgentProcess, Fixture } from "./secrets-agent-harness.js";

/**
 * dynamic_secret in `kms agent` against a real server and a real PostgreSQL: shared leases, renewal,
 * rotation at max TTL, revocation on shutdown, and the persistent cache across restarts.
 */

const run = randomBytes(3).toString("hex");
const db = `kmsagent_${run}`;
const admin = async <T>(database: string, f: (c: pg.Client) => Promise<T>) => {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
};
const roleExists = (user: string) => admin("postgres", async (c) => (await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [user])).rowCount === 1);
/** Logs in with the credentials and reads what the creation statement granted. */
const canRead = async (user: string, password: string) => {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, database: db, user, password });
  try {
    await c.connect();
    return (await c.query("SELECT v FROM t")).rows[0]?.v === "hello";
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
};
const creds = (text: string | undefined) => {
  const m = /user=(\S+)\npassword=(\S+)/.exec(text ?? "");
  return m ? { user: m[1]!, password: m[2]! } : undefined;
};
const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
const runs = (p: string) => (read(p) ?? "").split("\n").filter(Boolean).length;

describe("kms agent dynamic secrets (PostgreSQL)", () => {
  let s: TestServer;
  let f: Fixture;
  let skip = false;
  const agents: AgentProcess[] = [];

  const createDs = async (name: string, defaultTTL: string, maxTTL: string | null, inputs: Record<string, string> = {}) => {
    const r = await api(s.address, "POST", "/api/v1/dynamic-secrets", {
      token: s.adminToken,
      body: {
        projectSlug: f.projectSlug, environmentSlug: "dev", path: "/", name, defaultTTL, maxTTL,
        provider: {
          type: "sql-database",
          inputs: {
            client: "postgres", host: "127.0.0.1", port: 5432, database: db, username: "postgres", password: "x",
            creationStatement: `CREATE ROLE "{{username}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON t TO "{{username}}";`,
            revocationStatement: `REVOKE ALL ON t FROM "{{username}}"; DROP ROLE "{{username}}";`,
            ...inputs,
          },
        },
      },
    });
    assert.equal(r.status, 200, r.text);
  };
  const leases = async (name: string): Promise<{ id: string }[]> => {
    const r = await api(s.address, "GET", `/api/v1/dynamic-secrets/${name}/leases?projectSlug=${f.projectSlug}&environmentSlug=dev&path=/`, { token: s.adminToken });
    assert.equal(r.status, 200, r.text);
    return r.body.leases;
  };
  /** A `template-content: |` block (YAML single quotes would keep "\\n" literally). */
  const template = (name: string, ttl: string) =>
    `  - template-content: |\n      {{ with dynamic_secret "${f.projectSlug}" "dev" "/" "${name}" "${ttl}" }}user={{ .DB_USERNAME }}\n      password={{ .DB_PASSWORD }}{{ end }}\n`;
  const start = (cfg: string) => {
    const a = spawnAgent(["--config", cfg]);
    agents.push(a);
    return a;
  };
  /** `until`, with the agent's output in the error. */
  const waitUntil = (a: AgentProcess, cond: () => boolean | Promise<boolean>, ms: number, what: string) =>
    until(cond, ms, what).catch((e: Error) => {
      throw new Error(`${e.message}\n${a.output()}`);
    });

  before(async (t) => {
    if (!(await needService(t as never, "postgres"))) {
      skip = true;
      return;
    }
    await admin("postgres", (c) => c.query(`CREATE DATABASE ${db}`));
    await admin(db, (c) => c.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('hello')"));
    // A 1 s TTL floor lets leases renew and rotate within seconds (KMS_MIN_LEASE_TTL is for tests only).
    s = await startServer({ env: { KMS_MIN_LEASE_TTL: "1s", KMS_LEASE_SWEEP_INTERVAL: "300ms" } });
    f = await makeFixture(s, "agent-dyn", "member");
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop("SIGKILL")));
    await s?.cleanup();
    if (!skip) await admin("postgres", (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)).catch(() => {});
  });

  test("identical calls in two templates share one lease; it is renewed with the same credentials; shutdown revokes it and empties both files", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    await createDs("pg-shared", "3s", "1h");
    const [a1, a2] = [join(f.dir, "shared-1"), join(f.dir, "shared-2")];
    const cfg = writeConfig(f, `kms:
  address: ${s.address}
  revoke-credentials-on-shutdown: true
${authYaml(f)}templates:
${template("pg-shared", "3s")}    destination-path: ${a1}
  - template-content: |
      {{ with dynamicSecret "${f.projectSlug}" "dev" "/" "pg-shared" "3s" }}user={{ .DB_USERNAME }}
      password={{ .DB_PASSWORD }}{{ end }}
    destination-path: ${a2}
`, "shared.yaml");
    const a = start(cfg);
    await waitUntil(a, () => creds(read(a1)) !== undefined && creds(read(a2)) !== undefined, 20_000, "both files rendered");
    const c = creds(read(a1))!;
    assert.deepEqual(creds(read(a2)), c);
    assert.equal((await leases("pg-shared")).length, 1);
    assert.ok(await canRead(c.user, c.password));
    // Past the first 3 s TTL: renewed (not replaced), the same user still works, still one lease.
    await a.waitFor(/dynamic secret lease renewed/, 10_000);
    await new Promise((r) => setTimeout(r, 3_200));
    assert.deepEqual(creds(read(a1)), c);
    assert.equal((await leases("pg-shared")).length, 1);
    assert.ok(await canRead(c.user, c.password));

    assert.equal((await a.stop("SIGTERM")).code, 0, a.output());
    assert.equal(read(a1), "");
    assert.equal(read(a2), "");
    assert.equal((await leases("pg-shared")).length, 0);
    assert.equal(await roleExists(c.user), false);
    assert.ok(!a.output().includes(c.password), "a lease password reached the log");
  });

  test("at max TTL the agent rotates: new credentials in the file, the command once, then the old lease revoked", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    await createDs("pg-rotate", "2s", "5s");
    const dest = join(f.dir, "rotate");
    const counter = join(f.dir, "rotate-runs");
    const cfg = writeConfig(f, `kms:
  address: ${s.address}
${authYaml(f)}templates:
${template("pg-rotate", "2s")}    destination-path: ${dest}
    config:
      polling-interval: 5m
      execute:
        command: echo run >> ${counter}
`, "rotate.yaml");
    const a = start(cfg);
    await waitUntil(a, () => creds(read(dest)) !== undefined, 20_000, "first render");
    const first = creds(read(dest))!;
    // 2 s leases within a 5 s max TTL: renewed once or twice, then replaced before the old one expires.
    await waitUntil(a, () => creds(read(dest))?.user !== first.user, 15_000, "rotated credentials");
    const second = creds(read(dest))!;
    assert.ok(await canRead(second.user, second.password));
    await until(async () => !(await roleExists(first.user)), 5_000, "old lease revoked");
    assert.equal(runs(counter), 1, "the command ran once for the rotation");
    assert.match(a.output(), /dynamic secret lease renewed[\s\S]*lease renewal refused, replacing the lease|dynamic secret lease renewed[\s\S]*rotated/);
    const live = await leases("pg-rotate");
    assert.equal(live.length, 1);
    await a.stop();
  });

  test("two leases in one template, renewed while each renewal takes longer than the gap between them: neither expires", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    // A renewal that takes 300 ms: the second lease, due a few ms after the first, is overdue when it returns
    // (and is renewed then, 2/3 of the way into its 3 s, well before it expires).
    const slow = { renewStatement: `ALTER ROLE "{{username}}" VALID UNTIL '{{expiration}}'; SELECT pg_sleep(0.3);` };
    await createDs("pg-two-a", "3s", "1h", slow);
    await createDs("pg-two-b", "3s", "1h", slow);
    const dest = join(f.dir, "two");
    const cfg = writeConfig(f, `kms:
  address: ${s.address}
${authYaml(f)}templates:
  - template-content: |
      {{ with dynamic_secret "${f.projectSlug}" "dev" "/" "pg-two-a" "3s" }}user={{ .DB_USERNAME }}
      password={{ .DB_PASSWORD }}{{ end }}
      {{ with dynamic_secret "${f.projectSlug}" "dev" "/" "pg-two-b" "3s" }}user={{ .DB_USERNAME }}
      password={{ .DB_PASSWORD }}{{ end }}
    destination-path: ${dest}
`, "two.yaml");
    const a = start(cfg);
    const both = (text: string | undefined) => [...(text ?? "").matchAll(/user=(\S+)\npassword=(\S+)/g)].map((m) => ({ user: m[1]!, password: m[2]! }));
    await waitUntil(a, () => both(read(dest)).length === 2, 20_000, "first render");
    const first = read(dest);
    // Each lease renewed at 2/3 of its 3 s, three times over: the first expiry would have come after 3 s.
    await new Promise((r) => setTimeout(r, 7_000));
    assert.equal(read(dest), first, "the same credentials all along");
    for (const c of both(first)) {
      assert.ok(await roleExists(c.user), `${c.user} was dropped: its lease expired\n${a.output()}`);
      assert.ok(await canRead(c.user, c.password));
    }
    assert.deepEqual([(await leases("pg-two-a")).length, (await leases("pg-two-b")).length], [1, 1]);
    assert.doesNotMatch(a.output(), /expired/);
    const renewals = a.output().match(/dynamic secret lease renewed/g) ?? [];
    assert.ok(renewals.length >= 4, `${renewals.length} renewals\n${a.output()}`);
    await a.stop();
  });

  test("a lease that expired while the agent was stopped (SIGSTOP) is replaced as soon as it runs again: new credentials, the command once", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    await createDs("pg-sleep", "2s", "1h");
    const dest = join(f.dir, "sleep");
    const counter = join(f.dir, "sleep-runs");
    const cfg = writeConfig(f, `kms:
  address: ${s.address}
${authYaml(f)}templates:
${template("pg-sleep", "2s")}    destination-path: ${dest}
    config:
      polling-interval: 5m
      execute:
        command: echo run >> ${counter}
`, "sleep.yaml");
    const a = start(cfg);
    await waitUntil(a, () => creds(read(dest)) !== undefined, 20_000, "first render");
    const first = creds(read(dest))!;
    a.proc.kill("SIGSTOP");
    try {
      // The server's sweeper drops the expired lease's user while the agent cannot run.
      await until(async () => !(await roleExists(first.user)), 10_000, "the expired lease swept");
    } finally {
      a.proc.kill("SIGCONT");
    }
    await waitUntil(a, () => creds(read(dest)) !== undefined && creds(read(dest))!.user !== first.user, 10_000, "new credentials");
    const second = creds(read(dest))!;
    assert.ok(await canRead(second.user, second.password));
    await until(() => runs(counter) === 1, 5_000, "the command ran");
    assert.match(a.output(), /dynamic secret lease expired; making a new one/);
    await a.stop();
  });

  const cacheCase = async (name: string, cache: (dir: string) => string, spoil: () => void, warning: RegExp) => {
    await createDs(name, "1h", null);
    const dest = join(f.dir, `${name}.out`);
    const cfg = writeConfig(f, `kms:
  address: ${s.address}
${authYaml(f)}templates:
${template(name, "1h")}    destination-path: ${dest}
${cache(f.dir)}`, `${name}.yaml`);
    const a = start(cfg);
    await waitUntil(a, () => creds(read(dest)) !== undefined, 20_000, "first render");
    const first = creds(read(dest))!;
    const [lease] = await leases(name);
    assert.equal((await a.stop("SIGTERM")).code, 0);

    const b = start(cfg);
    await b.waitFor(/reusing cached dynamic secret lease/, 20_000);
    await b.waitFor(/secrets agent started/);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(creds(read(dest)), first, "the same credentials after a restart");
    assert.deepEqual((await leases(name)).map((l) => l.id), [lease!.id], "no new lease");
    assert.doesNotMatch(b.output(), /lease created/);
    assert.equal((await b.stop("SIGTERM")).code, 0);

    spoil();
    const c = start(cfg);
    await c.waitFor(warning, 20_000);
    await waitUntil(c, () => creds(read(dest))?.user !== first.user, 10_000, "new credentials after the cache was discarded");
    assert.equal((await leases(name)).length, 2, "a new lease (the old one expires on its own)");
    await c.stop();
  };

  test("cache type file: a restart reuses the lease; a tampered cache is discarded with a warning and a new lease made", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    const cacheDir = join(f.dir, "cache-file");
    await cacheCase(
      "pg-cache-file",
      (dir) => `cache:\n  persistent:\n    type: file\n    path: ${cacheDir}\n    key-file: ${join(dir, "cache.key")}\n`,
      () => {
        const p = join(cacheDir, "leases.v1");
        const j = JSON.parse(readFileSync(p, "utf8"));
        const ct = Buffer.from(j.ct, "base64");
        ct[5] ^= 0x01;
        j.ct = ct.toString("base64");
        writeFileSync(p, JSON.stringify(j));
      },
      /lease cache .* cannot be decrypted: tampered with, or written under another key file; discarded/,
    );
  });

  test("cache type kubernetes: the key follows the service-account token; another token discards the cache with a warning", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    const token = join(f.dir, "sa-token");
    writeFileSync(token, "eyJhbGciOiJSUzI1NiJ9.first-token.sig");
    await cacheCase(
      "pg-cache-k8s",
      () => `cache:\n  persistent:\n    type: kubernetes\n    path: ${join(f.dir, "cache-k8s")}\n    service-account-token-path: ${token}\n`,
      () => writeFileSync(token, "eyJhbGciOiJSUzI1NiJ9.another-token.sig"),
      /lease cache .* cannot be decrypted: tampered with, or written under another service-account token; discarded/,
    );
  });
});
