import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { assertWritableDir, ensureDir, parseMode, writeFileAtomic } from "../../src/agent/files.js";

const dir = () => mkdtempSync(join(tmpdir(), "kms-files-test-"));
const modeOf = (p: string) => statSync(p).mode & 0o7777;

test("writes the content with exactly the configured mode, whatever the umask", async () => {
  const d = dir();
  const old = process.umask(0o077);
  try {
    for (const mode of [0o600, 0o644, 0o640, 0o400, 0o755]) {
      const p = join(d, `f-${mode.toString(8)}`);
      await writeFileAtomic(p, "hello", { mode });
      assert.equal(modeOf(p), mode);
      assert.equal(readFileSync(p, "utf8"), "hello");
    }
  } finally {
    process.umask(old);
  }
});

test("the mode is enforced over an existing file of another mode", async () => {
  const d = dir();
  const p = join(d, "cert.pem");
  writeFileSync(p, "old");
  chmodSync(p, 0o666);
  await writeFileAtomic(p, "new", { mode: 0o644 });
  assert.equal(modeOf(p), 0o644);
  chmodSync(p, 0o600);
  await writeFileAtomic(p, "newer", { mode: 0o644 });
  assert.equal(modeOf(p), 0o644);
  assert.equal(readFileSync(p, "utf8"), "newer");
});

test("missing parent directories are created 0755", async () => {
  const d = dir();
  const old = process.umask(0o022);
  try {
    const p = join(d, "a", "b", "c.pem");
    await writeFileAtomic(p, "x", { mode: 0o600 });
    assert.equal(modeOf(join(d, "a")), 0o755);
    assert.equal(modeOf(join(d, "a", "b")), 0o755);
  } finally {
    process.umask(old);
  }
});

test("no temp files are left behind", async () => {
  const d = dir();
  for (let i = 0; i < 5; i++) await writeFileAtomic(join(d, "f"), String(i), { mode: 0o600 });
  assert.deepEqual(readdirSync(d), ["f"]);
});

test("a failed write leaves the old file and no temp", async () => {
  const d = dir();
  const p = join(d, "f");
  writeFileSync(p, "old");
  // An invalid mode makes chmod fail after the temp file was written.
  await assert.rejects(writeFileAtomic(p, "new", { mode: -1 }));
  assert.equal(readFileSync(p, "utf8"), "old");
  assert.deepEqual(readdirSync(d), ["f"]);
});

test("a concurrent reader sees the old content or the new, never a mix", async () => {
  const d = dir();
  const p = join(d, "big");
  const a = "A".repeat(1 << 20);
  const b = "B".repeat(1 << 20);
  await writeFileAtomic(p, a, { mode: 0o644 });
  let stop = false;
  let reads = 0;
  const reader = (async () => {
    while (!stop) {
      const s = await readFile(p, "utf8");
      assert.ok(s === a || s === b, `torn read of ${s.length} bytes`);
      reads++;
    }
  })();
  for (let i = 0; i < 40; i++) await writeFileAtomic(p, i % 2 ? a : b, { mode: 0o644 });
  stop = true;
  await reader;
  assert.ok(reads > 0);
});

test("kill -9 during writes leaves a complete old or new file", async () => {
  const d = dir();
  const p = join(d, "f");
  const a = "A".repeat(1 << 19);
  const b = "B".repeat(1 << 19);
  writeFileSync(p, a);
  const filesModule = new URL("../../src/agent/files.ts", import.meta.url).href;
  const script = `import { writeFileAtomic } from ${JSON.stringify(filesModule)};
    const a = "A".repeat(1 << 19), b = "B".repeat(1 << 19);
    for (let i = 0; ; i++) await writeFileAtomic(${JSON.stringify(p)}, i % 2 ? a : b, { mode: 0o644 });`;
  for (let i = 0; i < 12; i++) {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 250 + Math.random() * 200));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const s = readFileSync(p, "utf8");
    assert.ok(s === a || s === b, `torn file of ${s.length} bytes after kill`);
  }
});

test("parseMode reads octal strings and YAML numbers as octal", () => {
  const cases: [string | number, number | undefined][] = [
    ["0644", 0o644], ["644", 0o644], [644, 0o644], ["0600", 0o600], ["0o640", 0o640], [400, 0o400],
    ["0999", undefined], ["rw-r--r--", undefined], ["", undefined], [-1, undefined], ["07777", 0o7777], ["17777", undefined],
  ];
  for (const [input, want] of cases) assert.equal(parseMode(input), want, String(input));
});

test("assertWritableDir creates the directory and proves it writable", async () => {
  const d = dir();
  await assertWritableDir(join(d, "x", "cert.pem"));
  assert.deepEqual(readdirSync(join(d, "x")), []);
});

test("a replacement keeps the owner a hook gave the file (when we may set it)", { skip: process.getuid?.() !== 0 ? "needs root to chown" : false }, async () => {
  const { chownSync } = await import("node:fs");
  const d = dir();
  const p = join(d, "cert.pem");
  writeFileSync(p, "old");
  chownSync(p, 1234, 2345);
  await writeFileAtomic(p, "new", { mode: 0o644 });
  assert.equal(statSync(p).uid, 1234);
  assert.equal(statSync(p).gid, 2345);
});

test("a relative path fails with a clear error once the working directory was removed, instead of hanging", async () => {
  // Node's own recursive mkdir of a relative path retries forever once the working directory is gone.
  const d = dir();
  const cwd = join(d, "work");
  mkdirSync(cwd);
  const script = `
    import { rmSync } from "node:fs";
    import { writeFileAtomic } from ${JSON.stringify(new URL("../../src/agent/files.ts", import.meta.url).href)};
    rmSync(${JSON.stringify(cwd)}, { recursive: true });
    await writeFileAtomic("certs/live/web.crt", "pem", { mode: 0o644 }).then(() => console.log("written"), (e) => console.log(e.message));`;
  // tsx by URL: the child's working directory is not the repository.
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), "--input-type=module", "-e", script], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b) => { out += b; });
  child.stderr.on("data", (b) => { out += b; });
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const code = await new Promise((r) => child.once("exit", r));
  clearTimeout(timer);
  assert.equal(code, 0, `the write never ended: ${out}`);
  assert.match(out, /ENOENT: no such file or directory, mkdir 'certs' \(the working directory, which relative paths start from, no longer exists\)/);
});

test("ensureDir creates every missing level with the mode, accepts an existing directory, refuses a file", async () => {
  const d = dir();
  await ensureDir(join(d, "a", "b", "c"), 0o750);
  for (const p of ["a", "a/b", "a/b/c"]) assert.equal(modeOf(join(d, p)) & ~process.umask(), 0o750 & ~process.umask());
  await ensureDir(join(d, "a", "b"));
  writeFileSync(join(d, "file"), "x");
  await assert.rejects(ensureDir(join(d, "file")), /EEXIST/);
  await assert.rejects(ensureDir(join(d, "file", "sub")), /ENOTDIR/);
});

test("directories made for a file are 0755 under a umask of 0077 (the systemd unit's); existing ones keep their mode", async () => {
  const d = dir();
  const existing = join(d, "existing");
  mkdirSync(existing, { mode: 0o700 });
  chmodSync(existing, 0o700);
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(join(existing, "new", "sub", "cert.pem"), "x", { mode: 0o644 });
  } finally {
    process.umask(old);
  }
  assert.equal(modeOf(join(existing, "new")), 0o755);
  assert.equal(modeOf(join(existing, "new", "sub")), 0o755);
  assert.equal(modeOf(existing), 0o700, "not ours: untouched");
});
