import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { systemClock } from "../../../src/core/clock.js";
import { createLogger } from "../../../src/agent/log.js";
import { TemplateEntry } from "../../../src/agent/secrets/config.js";
import type { SecretSource } from "../../../src/agent/secrets/source.js";
import { createTemplateLoop, errorLocation } from "../../../src/agent/secrets/template-loop.js";
import type { HookSpec } from "../../../src/agent/hooks.js";

const tmp = () => mkdtempSync(join(tmpdir(), "kms-template-loop-"));

/** One secret whose value the test changes; every list call is counted. */
const source = () => {
  const state = { value: "v1", fail: false as false | string, lists: 0 };
  const s: SecretSource = {
    invalidate: () => {},
    list: async () => {
      state.lists++;
      if (state.fail) throw new Error(state.fail);
      return { secrets: [{ secretKey: "K", secretValue: state.value, secretPath: "/" }], imports: [] };
    },
    get: async () => ({ secretKey: "K", secretValue: state.value }),
    projectIdBySlug: async () => "P",
  };
  return { s, state };
};

const setup = (extra: Record<string, unknown> = {}, text = '{{ range secret "P" "dev" "/" }}{{ .Key }}={{ .Value }}{{ end }}') => {
  const dir = tmp();
  const dest = join(dir, "out");
  const entry = TemplateEntry.parse({ "template-content": text, "destination-path": dest, config: { "polling-interval": "50ms", execute: { command: "reload" } }, ...extra });
  const { s, state } = source();
  const hooks: HookSpec[] = [];
  const logs: string[] = [];
  const loop = createTemplateLoop({
    entry, index: 0, source: s, clock: systemClock,
    logger: createLogger({ stream: { write: (l: string) => (logs.push(l), true) } }),
    runHook: async (spec) => (hooks.push(spec), { exitCode: 0, signal: null, timedOut: false, durationMs: 1 }),
  });
  return { dir, dest, loop, state, hooks, logs };
};

test("the first render creates the file with its permission and runs no command", async () => {
  const t = setup({ permission: "0640" });
  const r = await t.loop.renderOnce();
  assert.deepEqual(r, { ok: true, changed: true, commandRan: false });
  assert.equal(readFileSync(t.dest, "utf8"), "K=v1");
  assert.equal(statSync(t.dest).mode & 0o777, 0o640);
  assert.equal(t.hooks.length, 0);
});

test("same output: no write (same inode), no command; a different output: written, command once, with its environment", async () => {
  const t = setup();
  await t.loop.renderOnce();
  const ino = statSync(t.dest).ino;
  assert.deepEqual(await t.loop.renderOnce(), { ok: true, changed: false, commandRan: false });
  assert.equal(statSync(t.dest).ino, ino);
  t.state.value = "v2";
  assert.deepEqual(await t.loop.renderOnce(), { ok: true, changed: true, commandRan: true, commandOk: true });
  assert.equal(readFileSync(t.dest, "utf8"), "K=v2");
  assert.equal(t.hooks.length, 1);
  assert.equal(t.hooks[0]!.command, "reload");
  assert.equal(t.hooks[0]!.timeoutMs, 30_000);
  assert.equal(t.hooks[0]!.env.KMS_TEMPLATE_DESTINATION, t.dest);
  await t.loop.renderOnce();
  assert.equal(t.hooks.length, 1);
});

test("an existing file with the same content is left alone (only its permission corrected); a different one is replaced and the command runs", async () => {
  const same = setup();
  writeFileSync(same.dest, "K=v1");
  chmodSync(same.dest, 0o644);
  const ino = statSync(same.dest).ino;
  assert.deepEqual(await same.loop.renderOnce(), { ok: true, changed: false, commandRan: false });
  assert.equal(statSync(same.dest).ino, ino);
  assert.equal(statSync(same.dest).mode & 0o777, 0o600);

  const stale = setup();
  writeFileSync(stale.dest, "K=old");
  const r = await stale.loop.renderOnce();
  assert.equal(r.ok && r.commandRan, true);
  assert.equal(stale.hooks.length, 1);
});

test("a failing render keeps the previous file and says where it failed", async () => {
  const t = setup({}, '{{ range secret "P" "dev" "/" }}{{ .Key }}={{ .Value }}{{ end }}\n{{ .Missing.Field }}');
  t.state.fail = "GET /api/v4/secrets: cannot reach the KMS (ECONNREFUSED)";
  writeFileSync(t.dest, "previous");
  const r = await t.loop.renderOnce();
  assert.equal(r.ok, false);
  assert.equal(readFileSync(t.dest, "utf8"), "previous");
  assert.match(t.logs.join(""), /template literalTemplate failed to render; the previous output stays .*line=1 column=9 .*ECONNREFUSED/);
  assert.equal(t.hooks.length, 0);
});

test("errorLocation reads Go's prefix, with and without a column", () => {
  assert.deepEqual(errorLocation('template: app.tpl:3:14: executing "app.tpl" at <x>: boom'), { template: "app.tpl", line: 3, column: 14 });
  assert.deepEqual(errorLocation('template: app.tpl:7: function "secrets" not defined'), { template: "app.tpl", line: 7 });
  assert.deepEqual(errorLocation("something else"), {});
});

test("the loop polls at its interval, and a kick renders at once (a burst of kicks gives one render)", async () => {
  const t = setup({ config: { "polling-interval": "10s" } });
  const abort = new AbortController();
  const running = t.loop.run(abort.signal);
  const until = async (cond: () => boolean) => {
    const end = Date.now() + 3_000;
    while (!cond()) {
      if (Date.now() > end) throw new Error("timeout");
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const content = () => {
    try {
      return readFileSync(t.dest, "utf8");
    } catch {
      return undefined;
    }
  };
  try {
    await until(() => content() === "K=v1");
    t.state.value = "v2";
    for (let i = 0; i < 5; i++) t.loop.kick();
    await until(() => content() === "K=v2");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.state.lists, 2);
  } finally {
    abort.abort();
    await running;
  }
});

test("a command past its timeout is killed with its whole process group", async () => {
  const dir = tmp();
  const dest = join(dir, "out");
  const pidFile = join(dir, "child.pid");
  const entry = TemplateEntry.parse({
    "template-content": '{{ range secret "P" "dev" "/" }}{{ .Value }}{{ end }}',
    "destination-path": dest,
    config: { execute: { command: `sleep 30 & echo $! > ${pidFile}; wait`, timeout: "300ms" } },
  });
  const { s, state } = source();
  const loop = createTemplateLoop({ entry, index: 0, source: s, clock: systemClock, logger: createLogger({ stream: { write: () => true } }), hookKillGraceMs: 200 });
  writeFileSync(dest, "stale");
  state.value = "fresh";
  const t0 = Date.now();
  const r = await loop.renderOnce();
  assert.equal(r.ok && r.commandRan && r.commandOk, false);
  assert.ok(Date.now() - t0 < 5_000);
  const pid = Number(readFileSync(pidFile, "utf8"));
  await new Promise((res) => setTimeout(res, 100));
  // Dead means gone or a zombie: in a container, PID 1 may be slow to reap the orphan.
  let procState = "gone";
  try {
    procState = /State:\s+(\S)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "?";
  } catch {
    // gone
  }
  assert.ok(procState === "gone" || procState === "Z", `the background child survived (state ${procState})`);
});

test("a stop that arrives while a render is finishing does not wait for the next poll", async () => {
  const t = setup({ config: { "polling-interval": "5m" } });
  const slow = t.state as { value: string };
  const original = slow.value;
  // A render that takes 100 ms and ignores the abort (as a write in progress does).
  const loop = createTemplateLoop({
    entry: TemplateEntry.parse({ "template-content": "{{ range secret \"P\" \"dev\" \"/\" }}{{ .Value }}{{ end }}", "destination-path": t.dest }),
    index: 1,
    source: {
      invalidate: () => {},
      list: async () => {
        await new Promise((r) => setTimeout(r, 100));
        return { secrets: [{ secretKey: "K", secretValue: original }], imports: [] };
      },
      get: async () => ({ secretKey: "K", secretValue: "" }),
      projectIdBySlug: async () => "P",
    },
    clock: systemClock,
    logger: createLogger({ stream: { write: () => true } }),
  });
  const abort = new AbortController();
  const running = loop.run(abort.signal);
  setTimeout(() => abort.abort(), 20);
  const t0 = Date.now();
  await running;
  assert.ok(Date.now() - t0 < 2_000, `stopped after ${Date.now() - t0} ms`);
});

test("a failed render's error reaches the log and the caller without the secret values and lease credentials it fetched", async () => {
  const value = `p@ss'w"rd`;
  for (const text of [
    '{{ range getSecretByName "P" "dev" "/" "K" }}{{ end }}',
    '{{ $a := getSecretByName "P" "dev" "/" "K" }}{{ eq $a $a }}',
    '{{ range secret "P" "dev" "/" }}{{ range . }}{{ end }}{{ end }}',
    '{{ $d := dynamic_secret "app" "dev" "/" "pg" }}{{ range $d.DB_PASSWORD }}{{ end }}',
  ]) {
    const dir = tmp();
    const entry = TemplateEntry.parse({ "template-content": text, "destination-path": join(dir, "out") });
    const { s, state } = source();
    state.value = value;
    const logs: string[] = [];
    const loop = createTemplateLoop({
      entry, index: 0, source: s, clock: systemClock,
      logger: createLogger({ stream: { write: (l: string) => (logs.push(l), true) } }),
      leases: { acquire: async () => ({ DB_USERNAME: "lease-user-1", DB_PASSWORD: "lease-pw-1" }) },
    });
    const r = await loop.renderOnce();
    assert.equal(r.ok, false, text);
    const error = (r as { error: Error }).error;
    for (const secret of [value, "lease-pw-1", "lease-user-1"]) {
      assert.ok(!logs.join("").includes(secret), `${text}: ${logs.join("")}`);
      assert.ok(!error.message.includes(secret), `${text}: ${error.message}`);
    }
    assert.match(logs.join(""), /\[REDACTED\]/, text);
    assert.match(error.message, /^template: literalTemplate:1:\d+: executing/);
  }
});
