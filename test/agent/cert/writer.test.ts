import assert from "node:assert/strict";
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readState } from "../../../src/agent/cert/state.js";
import type { CertRecordState } from "../../../src/agent/cert/state.js";
import { pendingPathFor, recoverSet, writeSet } from "../../../src/agent/cert/writer.js";

const root = mkdtempSync(join(tmpdir(), "kms-writer-"));
after(() => rmSync(root, { recursive: true, force: true }));

const next = (serialNumber: string): CertRecordState => ({
  fingerprint: "f", serialNumber, notAfter: "2030-01-01T00:00:00.000Z", keySource: "server", issuedAt: "2026-01-01T00:00:00.000Z",
});

test("a set lands whole: each file with its mode, the state records it, no pending file is left", async () => {
  const dir = join(root, "ok");
  mkdirSync(dir);
  const targets = { key: { path: join(dir, "k.pem"), mode: 0o600 }, chain: { path: join(dir, "chain.pem"), mode: 0o644 }, certificate: { path: join(dir, "c.pem"), mode: 0o644 } };
  const state = join(dir, "c.state.json");
  await writeSet(targets, { key: "KEY 1\n", chain: "CHAIN 1\n", certificate: "CERT 1\n" }, state, "issuance", next("01"));
  await writeSet(targets, { key: "KEY 2\n", chain: "CHAIN 2\n", certificate: "CERT 2\n" }, state, "renewal", next("02"));
  assert.deepEqual([readFileSync(targets.key.path, "utf8"), readFileSync(targets.chain.path, "utf8"), readFileSync(targets.certificate.path, "utf8")], ["KEY 2\n", "CHAIN 2\n", "CERT 2\n"]);
  assert.deepEqual([statSync(targets.key.path).mode & 0o777, statSync(targets.certificate.path).mode & 0o777], [0o600, 0o644]);
  const read = await readState(state);
  assert.ok(read.kind === "ok" && read.state.current?.serialNumber === "02" && !read.state.pending);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes("pending") || f.includes(".tmp")), []);
});

test("one file that cannot be written fails the set: nothing replaced, no temp left behind, the state unchanged", async () => {
  const dir = join(root, "fail");
  mkdirSync(dir);
  const key = join(dir, "k.pem");
  const cert = join(dir, "c.pem");
  writeFileSync(key, "OLD KEY\n");
  writeFileSync(cert, "OLD CERT\n");
  // The chain's directory is a file: its temp cannot be created, while the key's and certificate's can.
  writeFileSync(join(dir, "not-a-dir"), "");
  const targets = { key: { path: key, mode: 0o600 }, chain: { path: join(dir, "not-a-dir", "chain.pem"), mode: 0o644 }, certificate: { path: cert, mode: 0o644 } };
  const state = join(dir, "c.state.json");
  await assert.rejects(writeSet(targets, { key: "NEW KEY\n", chain: "NEW CHAIN\n", certificate: "NEW CERT\n" }, state, "renewal", next("03")), /ENOTDIR|EEXIST/);
  assert.equal(readFileSync(key, "utf8"), "OLD KEY\n");
  assert.equal(readFileSync(cert, "utf8"), "OLD CERT\n");
  assert.deepEqual(readdirSync(dir).sort(), ["c.pem", "k.pem", "not-a-dir"], "no temp and no state written");
});

test("a symlink or hard link planted at a pending name is never written through: the target stays, the set lands", async () => {
  const dir = join(root, "planted");
  mkdirSync(dir);
  const victim = join(root, "victim-passwd");
  writeFileSync(victim, "root:x:0:0\n");
  const linked = join(root, "victim-linked");
  writeFileSync(linked, "do not touch\n");
  const targets = { key: { path: join(dir, "k.pem"), mode: 0o600 }, chain: { path: join(dir, "chain.pem"), mode: 0o644 }, certificate: { path: join(dir, "c.pem"), mode: 0o644 } };
  symlinkSync(victim, pendingPathFor(targets.key.path));
  linkSync(linked, pendingPathFor(targets.certificate.path));
  writeFileSync(pendingPathFor(targets.chain.path), "a leftover, longer than what replaces it\n");
  await writeSet(targets, { key: "KEY\n", chain: "CHAIN\n", certificate: "CERT\n" }, join(dir, "c.state.json"), "issuance", next("01"));
  assert.equal(readFileSync(victim, "utf8"), "root:x:0:0\n");
  assert.equal(readFileSync(linked, "utf8"), "do not touch\n");
  assert.deepEqual([readFileSync(targets.key.path, "utf8"), readFileSync(targets.chain.path, "utf8"), readFileSync(targets.certificate.path, "utf8")], ["KEY\n", "CHAIN\n", "CERT\n"]);
  assert.ok(lstatSync(targets.key.path).isFile() && !lstatSync(targets.key.path).isSymbolicLink());
  assert.equal(statSync(targets.key.path).mode & 0o777, 0o600);
});

test("recovery puts only regular temp files in place, never a symlink found at a pending name", async () => {
  const dir = join(root, "recover-link");
  mkdirSync(dir);
  const victim = join(root, "victim-recover");
  writeFileSync(victim, "secret\n");
  const cert = join(dir, "c.pem");
  writeFileSync(cert, "OLD CERT\n");
  symlinkSync(victim, pendingPathFor(cert));
  const state = join(dir, "c.state.json");
  writeFileSync(state, JSON.stringify({ version: 1, pending: { event: "renewal", files: [{ temp: pendingPathFor(cert), path: cert }], next: next("02") } }));
  await recoverSet({ certificate: { path: cert, mode: 0o644 } }, state);
  assert.equal(readFileSync(cert, "utf8"), "OLD CERT\n");
  assert.ok(!lstatSync(cert).isSymbolicLink());
});
