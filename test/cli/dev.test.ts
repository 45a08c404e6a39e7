import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KMS_BIN } from "../helpers/server.js";
import { openssl } from "../helpers/openssl.js";

/** Runs `kms dev` in `cwd` until `until` matches its output, then stops it with SIGINT. */
const runDev = (cwd: string, until: RegExp) =>
  new Promise<{ out: string; code: number | null }>((resolve, reject) => {
    const p = spawn(process.execPath, [KMS_BIN, "dev", "--port", "0"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => { p.kill("SIGKILL"); reject(new Error(`kms dev did not print ${until}:\n${out}`)); }, 60_000);
    const onData = (d: Buffer) => { out += d.toString(); if (until.test(out)) p.kill("SIGINT"); };
    p.stdout.on("data", onData);
    p.stderr.on("data", onData);
    p.on("exit", (code) => { clearTimeout(timer); resolve({ out, code }); });
  });

test("kms dev: embedded server, demo PKI and an agent that issues a real certificate; a second run reuses everything", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "kms-dev-"));
  try {
    const first = await runDev(cwd, /certificate issued/);
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /openssl verify -CAfile \.kms-dev\/certs\/demo-root-ca\.pem/);
    const certs = join(cwd, ".kms-dev", "certs");
    const v = openssl("verify", "-CAfile", join(certs, "demo-root-ca.pem"), "-untrusted", join(certs, "web-chain.crt"), join(certs, "web.crt"));
    assert.equal(v.status, 0, v.out);
    assert.equal(statSync(join(certs, "web.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(certs, "web.crt")).mode & 0o777, 0o644);
    const config = readFileSync(join(cwd, ".kms-dev", "agent.yaml"), "utf8");
    for (const key of ["retry-strategy", "renew-before-expiry", "status-check-interval", "omit-root", "on-issuance", "on-renewal", "on-failure"])
      assert.ok(config.includes(key), `agent.yaml has ${key}`);
    const serial = openssl("x509", "-in", join(certs, "web.crt"), "-noout", "-serial").out;

    // While one runs, a second on the same directory is refused before it touches anything.
    const running = spawn(process.execPath, [KMS_BIN, "dev", "--port", "0"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const stopped = new Promise((r) => running.once("exit", r));
    try {
      let runningOut = "";
      await new Promise<void>((r) => { const on = (d: Buffer) => { runningOut += d; if (/certificate agent started/.test(runningOut)) r(); }; running.stdout.on("data", on); running.stderr.on("data", on); });
      const clash = await runDev(cwd, /(?!)/); // exits by itself
      assert.equal(clash.code, 1, clash.out);
      assert.match(clash.out, new RegExp(`kms dev: cannot start the server: \\.kms-dev is in use by another kms dev or kms server \\(pid ${running.pid}\\): stop it first, or give this one its own --dir`));
    } finally {
      // Also when an assertion fails: a kms dev left running in a removed directory would outlive the test.
      running.kill("SIGINT");
      await stopped;
    }

    const second = await runDev(cwd, /reusing certificate on disk/);
    assert.equal(second.code, 0, second.out);
    assert.doesNotMatch(second.out, /certificate issued/);
    assert.equal(openssl("x509", "-in", join(certs, "web.crt"), "-noout", "-serial").out, serial);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
