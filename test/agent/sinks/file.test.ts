import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createFileSink, FileSinkConfig } from "../../../src/agent/sinks/file.js";
import { createSink, SinkConfig } from "../../../src/agent/sinks/index.js";
import { sinkContract } from "./sink.contract.js";

const modeOf = (p: string) => statSync(p).mode & 0o7777;
const cfg = (path: string, permission?: string) => FileSinkConfig.parse({ type: "file", config: { path, ...(permission ? { permission } : {}) } });

// Writes are broken by putting a regular file where the token's directory was (chmod would not stop
// root, which runs these tests in CI); repair puts the directory back.
sinkContract("file", async (dir) => {
  const sub = join(dir, "sub");
  const path = join(sub, "token");
  return {
    sink: await createFileSink(cfg(path)),
    read: async () => readFile(path, "utf8").catch(() => undefined),
    breakWrites: async () => {
      renameSync(sub, `${sub}.away`);
      writeFileSync(sub, "not a directory");
    },
    repair: async () => {
      rmSync(sub);
      renameSync(`${sub}.away`, sub);
    },
  };
});

const tmp = () => mkdtempSync(join(tmpdir(), "kms-file-sink-"));

test("the default permission is 0600, whatever the umask", async () => {
  const p = join(tmp(), "token");
  const old = process.umask(0);
  try {
    await (await createFileSink(cfg(p))).write("t");
  } finally {
    process.umask(old);
  }
  assert.equal(modeOf(p), 0o600);
});

test("a configured 0640 is on disk, also over an existing 0644 file", async () => {
  const p = join(tmp(), "token");
  writeFileSync(p, "old");
  chmodSync(p, 0o644);
  await (await createFileSink(cfg(p, "0640"))).write("new");
  assert.equal(modeOf(p), 0o640);
  assert.equal(await readFile(p, "utf8"), "new");
});

test("no temp file is left beside the token", async () => {
  const d = tmp();
  const s = await createFileSink(cfg(join(d, "token")));
  for (let i = 0; i < 5; i++) await s.write(`t${i}`);
  assert.deepEqual(readdirSync(d), ["token"]);
});

test("a path that cannot be written fails at creation, not at the first token", async () => {
  const d = tmp();
  writeFileSync(join(d, "sub"), "a file where a directory should be");
  await assert.rejects(createFileSink(cfg(join(d, "sub", "token"))), /EEXIST|ENOTDIR/);
});

const bad: { name: string; input: unknown; error: RegExp }[] = [
  { name: "permission with a non-octal digit", input: { type: "file", config: { path: "/tmp/x", permission: "0698" } }, error: /invalid permission "0698"/ },
  { name: "empty path", input: { type: "file", config: { path: " " } }, error: /must not be empty/ },
  { name: "unknown key", input: { type: "file", config: { path: "/tmp/x", mode: "0600" } }, error: /mode/ },
  { name: "unknown type", input: { type: "socket", config: {} }, error: /unknown sink type "socket"; supported: "file"/ },
];
for (const c of bad) {
  test(`config: ${c.name}`, () => {
    const r = SinkConfig.safeParse(c.input);
    assert.equal(r.success, false);
    assert.match(r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message} ${"keys" in i ? String(i.keys) : ""}`).join("\n"), c.error);
  });
}

test("the registry builds a file sink from its config", async () => {
  const p = join(tmp(), "t");
  const s = await createSink(SinkConfig.parse({ type: "file", config: { path: p, permission: "0640" } }));
  await s.write("x");
  assert.equal(modeOf(p), 0o640);
});
