/**
 * What an operator of `kms server` meets at the edges: input PostgreSQL cannot store, two requests creating the
 * same thing at once, long names in URLs, Fastify's own refusals, a reverse proxy in front, a renewed HTTPS
 * certificate, and start-up flags that would otherwise be misread. Real server processes, SQLite and PostgreSQL.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { KMS_BIN, api, createUaIdentity, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { scratch } from "../helpers/openssl.js";

const suite = (backend: "sqlite" | "postgres") =>
  describe(`server at the edges (${backend})`, () => {
    let s: TestServer;
    let pg: ReturnType<typeof createPgDatabase> | undefined;
    let skip = false;

    before(async (t) => {
      if (backend === "postgres") {
        if (!(await needService(t as any, "postgres"))) { skip = true; return; }
        pg = createPgDatabase();
      }
      s = await startServer({ databaseUrl: pg?.url });
    });
    after(async () => {
      await s?.cleanup();
      pg?.drop();
    });

    test("a NUL character in a body or a URL is a 400 naming where, never a 500", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const login = await api(s.address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId: "a\u0000", clientSecret: "x" } });
      assert.equal(login.status, 400, login.text);
      assert.match(login.body.message, /body\.clientId: the NUL character/);
      assert.ok(login.body.reqId);
      const nested = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "p", slug: "nul", tags: ["ok", "b\u0000d"] } });
      assert.equal(nested.status, 400, nested.text);
      assert.match(nested.body.message, /body\.tags\[1\]/);
      const url = await api(s.address, "GET", "/api/v3/secrets/raw/a%00b?workspaceId=x&environment=dev", { token: s.adminToken });
      assert.equal(url.status, 400, url.text);
      assert.match(url.body.message, /NUL/);
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token: s.adminToken })).body.projects.filter((p: { slug: string }) => p.slug === "nul").length, 0);
    });

    test("ten requests creating the same project at once: one 200, the others 400, no 500", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const results = await Promise.all(Array.from({ length: 10 }, () =>
        api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "race", slug: "race-proj" } })));
      const statuses = results.map((r) => r.status).sort();
      assert.equal(statuses.filter((x) => x === 200).length, 1, results.map((r) => r.text).join("\n"));
      assert.deepEqual([...new Set(statuses.filter((x) => x !== 200))], [400]);
      for (const r of results.filter((x) => x.status === 400)) assert.match(r.body.message, /already exists/);
    });

    test("a secret name longer than 100 characters works; Fastify's own refusals have the error body", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const p = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "long", slug: "long-names" } });
      assert.equal(p.status, 200, p.text);
      const name = "K".repeat(300);
      const created = await api(s.address, "POST", `/api/v3/secrets/raw/${name}`, { token: s.adminToken, body: { workspaceId: p.body.project.id, environment: "dev", secretValue: "v" } });
      assert.equal(created.status, 200, created.text);
      const read = await api(s.address, "GET", `/api/v3/secrets/raw/${name}?workspaceId=${p.body.project.id}&environment=dev`, { token: s.adminToken });
      assert.equal(read.status, 200, read.text);
      assert.equal(read.body.secret.secretValue, "v");
      const bad = await api(s.address, "GET", "/api/v3/secrets/raw/%ZZ", { token: s.adminToken });
      assert.equal(bad.status, 400, bad.text);
      assert.ok(bad.body.reqId, bad.text);
      assert.equal(bad.body.statusCode, 400);
    });
  });

suite("sqlite");
suite("postgres");

describe("server start-up flags and signals", () => {
  const files = scratch("kms-server-http-");
  const run = (...args: string[]) => spawnSync(process.execPath, [KMS_BIN, "server", "--port", "0", "--data-dir", join(files.dir, "never"), ...args], { encoding: "utf8", timeout: 30_000 });

  test("--database-url that is not PostgreSQL, or an unknown --log-level, stops the start with a message naming the flag", () => {
    const mysql = run("--database-url", "mysql://root@127.0.0.1/x");
    assert.equal(mysql.status, 1, mysql.stderr);
    assert.match(mysql.stderr, /--database-url: only postgres:\/\//);
    const level = run("--log-level", "verbose");
    assert.notEqual(level.status, 0);
    assert.match(level.stderr, /--log-level.*verbose.*Allowed choices are fatal, error, warn, info, debug, trace/);
    const proxy = run("--trust-proxy", "10.0.0.0/40");
    assert.equal(proxy.status, 1, proxy.stderr);
    assert.match(proxy.stderr, /--trust-proxy: "10\.0\.0\.0\/40" is not an IP address or CIDR range/);
  });

  test("listening on every address without --public-url warns that certificates would point at a local address", async () => {
    const s = await startServer({ args: ["--host", "0.0.0.0"], bootstrap: false });
    try {
      for (let i = 0; i < 30 && !s.output().includes("set --public-url"); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(s.output(), /listening on every address, but certificates will point their CRL, OCSP and CA-issuer URLs at http:\/\/127\.0\.0\.1:\d+.*set --public-url/);
    } finally {
      await s.cleanup();
    }
    const ok = await startServer({ args: ["--host", "0.0.0.0", "--public-url", "https://kms.example.com"], bootstrap: false });
    try {
      assert.doesNotMatch(ok.output(), /set --public-url/);
    } finally {
      await ok.cleanup();
    }
  });

  test("--trust-proxy: the client address comes from X-Forwarded-For only when the proxy is trusted", async () => {
    for (const [args, expect] of [[[], 403], [["--trust-proxy", "127.0.0.1"], 200]] as const) {
      const s = await startServer({ args: [...args] });
      try {
        const c = await createUaIdentity(s, "behind-proxy", { ua: { clientSecretTrustedIps: [{ ipAddress: "10.0.0.0/8" }] } });
        const r = await api(s.address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId: c.clientId, clientSecret: c.clientSecret }, headers: { "x-forwarded-for": "10.1.2.3" } });
        assert.equal(r.status, expect, `${args.join(" ")}: ${r.text}`);
      } finally {
        await s.cleanup();
      }
    }
  });

  test("SIGHUP reloads the HTTPS certificate for new connections and keeps serving; a broken file keeps the old one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kms-tls-reload-"));
    const cert = join(dir, "server.pem");
    const key = join(dir, "server.key");
    const make = (cn: string) => execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
      "-subj", `/CN=${cn}`, "-days", "2", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
    const servedCn = (address: string) => new Promise<string>((resolve, reject) => {
      const u = new URL(address);
      const sock = connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => {
        const cn = sock.getPeerCertificate().subject.CN;
        sock.end();
        resolve(String(cn));
      });
      sock.on("error", reject);
    });
    make("first");
    const s = await startServer({ args: ["--tls-cert", cert, "--tls-key", key, "--log-level", "info"], bootstrap: false });
    try {
      assert.equal(await servedCn(s.address), "first");
      make("second");
      s.proc.kill("SIGHUP");
      for (let i = 0; i < 50 && !s.output().includes("TLS certificate reloaded"); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(s.output(), /TLS certificate reloaded/);
      assert.equal(await servedCn(s.address), "second");
      execFileSync("sh", ["-c", `echo broken > ${key}`]);
      s.proc.kill("SIGHUP");
      for (let i = 0; i < 50 && !s.output().includes("not reloaded"); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(s.output(), /TLS certificate not reloaded; the one in use stays/);
      assert.equal(await servedCn(s.address), "second");
      assert.equal(s.proc.exitCode, null, "still running");
    } finally {
      await s.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
