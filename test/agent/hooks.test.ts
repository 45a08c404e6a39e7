import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { privateKeyRedactor, runHook } from "../../src/agent/hooks.js";
import { createLogger } from "../../src/agent/log.js";
import type { Logger } from "../../src/agent/log.js";
import { systemClock } from "../../src/core/clock.js";

const memoryLogger = () => {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const make = (): Logger => ({
    debug: (msg, fields) => lines.push({ level: "debug", msg, fields }),
    info: (msg, fields) => lines.push({ level: "info", msg, fields }),
    warn: (msg, fields) => lines.push({ level: "warn", msg, fields }),
    error: (msg, fields) => lines.push({ level: "error", msg, fields }),
    child: () => make(),
  });
  return { logger: make(), lines };
};

/** Alive and not a zombie: in a container, PID 1 may never reap an orphan that was killed. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

test("runs sh -c with the given environment on top of the agent's", async () => {
  const { logger, lines } = memoryLogger();
  process.env.KMS_HOOK_TEST_INHERITED = "from-agent";
  const r = await runHook(
    { name: "on-issuance", command: 'echo "cn=$CERT_COMMON_NAME event=$EVENT inherited=$KMS_HOOK_TEST_INHERITED"', timeoutMs: 5_000, env: { CERT_COMMON_NAME: "api.example.com", EVENT: "issuance" } },
    { clock: systemClock, logger },
  );
  delete process.env.KMS_HOOK_TEST_INHERITED;
  assert.equal(r.exitCode, 0);
  assert.equal(r.timedOut, false);
  assert.ok(lines.some((l) => l.msg === "hook on-issuance: cn=api.example.com event=issuance inherited=from-agent"), JSON.stringify(lines));
});

test("the agent's own configuration (KMS_AGENT_CONFIG_BASE64, client secret and all) does not reach the hook", async () => {
  const { logger, lines } = memoryLogger();
  const saved = process.env.KMS_AGENT_CONFIG_BASE64;
  process.env.KMS_AGENT_CONFIG_BASE64 = Buffer.from("auth: {config: {client-secret: s3cret}}").toString("base64");
  try {
    const r = await runHook({ name: "h", command: 'echo "config=${KMS_AGENT_CONFIG_BASE64-unset} path=${PATH:+set}"', timeoutMs: 5_000, env: {} }, { clock: systemClock, logger });
    assert.equal(r.exitCode, 0);
  } finally {
    if (saved === undefined) delete process.env.KMS_AGENT_CONFIG_BASE64;
    else process.env.KMS_AGENT_CONFIG_BASE64 = saved;
  }
  assert.ok(lines.some((l) => l.msg === "hook h: config=unset path=set"), JSON.stringify(lines));
});

test("multi-line commands run as a script; stderr lines are logged as warnings", async () => {
  const { logger, lines } = memoryLogger();
  const r = await runHook({ name: "h", command: "echo one\necho two >&2\nexit 3\n", timeoutMs: 5_000, env: {} }, { clock: systemClock, logger });
  assert.equal(r.exitCode, 3);
  assert.ok(lines.some((l) => l.level === "info" && l.msg === "hook h: one"));
  assert.ok(lines.some((l) => l.level === "warn" && l.msg === "hook h: two"));
  assert.ok(lines.some((l) => l.msg === "hook h: failed" && l.fields?.exitCode === 3));
});

test("a hook past its timeout is killed with its whole process group, grandchildren included", async () => {
  const { logger } = memoryLogger();
  const d = mkdtempSync(join(tmpdir(), "kms-hook-test-"));
  const pidFile = join(d, "grandchild.pid");
  const started = Date.now();
  // The grandchild ignores SIGTERM, so only the SIGKILL to the group can end it.
  const r = await runHook(
    { name: "slow", command: `sh -c 'trap "" TERM; echo $$ > ${pidFile}; sleep 30' &\nsleep 30`, timeoutMs: 500, env: {} },
    { clock: systemClock, logger, killGraceMs: 300 },
  );
  assert.equal(r.timedOut, true);
  assert.ok(Date.now() - started < 5_000, "did not wait for the sleeps");
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  assert.ok(pid > 0);
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(alive(pid), false, `grandchild ${pid} survived`);
});

test("a background grandchild holding stdout does not hang the agent", async () => {
  const { logger } = memoryLogger();
  const d = mkdtempSync(join(tmpdir(), "kms-hook-test-"));
  const pidFile = join(d, "bg.pid");
  const started = Date.now();
  const r = await runHook({ name: "bg", command: `(sleep 5; echo late) & echo $! > ${pidFile}; echo started`, timeoutMs: 10_000, env: {} }, { clock: systemClock, logger });
  assert.equal(r.exitCode, 0);
  assert.equal(r.timedOut, false);
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  // A successful hook may leave a daemon behind on purpose; we only stop listening to it.
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try { process.kill(-pid, "SIGKILL"); } catch { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
});

test("a command that cannot start is reported, not thrown", async () => {
  const { logger, lines } = memoryLogger();
  const r = await runHook({ name: "x", command: "true", timeoutMs: 1_000, env: {} }, { clock: systemClock, logger, shell: "/nonexistent/sh" });
  assert.equal(r.exitCode, null);
  assert.ok(lines.some((l) => l.level === "error"));
});

test("a private key printed by a hook is redacted across its lines, whatever its PEM label, on stdout and stderr", async () => {
  const d = mkdtempSync(join(tmpdir(), "kms-hook-redact-"));
  const out: string[] = [];
  const logger = createLogger({ stream: { write: (s: string) => (out.push(s), true) } });
  const command = `set -e
cd ${d}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out pkcs8.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out ec.pem
openssl genrsa -traditional -out rsa.pem 1024 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:x -out enc.pem 2>/dev/null
echo before; cat pkcs8.pem; echo between; cat ec.pem rsa.pem; echo after
cat enc.pem >&2; echo "stderr after" >&2`;
  const r = await runHook({ name: "on-issuance", command, timeoutMs: 20_000, env: {} }, { clock: systemClock, logger });
  assert.equal(r.exitCode, 0, out.join(""));
  const log = out.join("");
  const keys = ["pkcs8.pem", "ec.pem", "rsa.pem", "enc.pem"].map((f) => readFileSync(join(d, f), "utf8"));
  assert.deepEqual(keys.map((k) => /-----BEGIN ([A-Z ]+)-----/.exec(k)![1]), ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]);
  for (const key of keys) {
    for (const line of key.split("\n").filter((l) => l.length > 8)) assert.ok(!log.includes(line), `logged: ${line}\n${log}`);
  }
  assert.equal(log.match(/\[REDACTED\]/g)?.length, 4, log);
  for (const text of ["before", "between", "after", "stderr after"]) assert.match(log, new RegExp(`hook on-issuance: ${text}`));
});

test("the redactor keeps text around a one-line key and passes other PEM blocks", () => {
  const r = privateKeyRedactor();
  assert.equal(r("key=-----BEGIN PRIVATE KEY-----abc-----END PRIVATE KEY----- done"), "key=[REDACTED] done");
  assert.equal(r("-----BEGIN CERTIFICATE-----"), "-----BEGIN CERTIFICATE-----");
  assert.equal(r("MIIB"), "MIIB");
  assert.equal(r("x -----BEGIN OPENSSH PRIVATE KEY-----"), "x [REDACTED]");
  assert.equal(r("b3BlbnNzaC1rZXktdjEAAAAA"), undefined);
  assert.equal(r("-----END OPENSSH PRIVATE KEY-----"), undefined);
  assert.equal(r("next"), "next");
});
