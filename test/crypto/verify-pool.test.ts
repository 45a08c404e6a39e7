import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { publicKeyInputFromSpki } from "../../src/crypto/key-der.js";
import { setHelperWorkerNice } from "../../src/crypto/helper-workers.js";
import { verifyOffThread } from "../../src/crypto/verify-pool.js";
import { REPO } from "../helpers/server.js";

const data = Buffer.from("to be signed");
const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
const spki = (k: { publicKey: import("node:crypto").KeyObject }) => k.publicKey.export({ format: "der", type: "spki" });

test("verifies on a worker: good and bad signatures, RSA (JWK path), P-256 (JWK) and P-384 (DER)", async () => {
  setHelperWorkerNice(7);
  for (const [name, k, hash] of [["ec", ec, "sha256"], ["rsa", rsa, "sha256"], ["p384", p384, "sha384"]] as const) {
    const signature = sign(hash, data, k.privateKey);
    const key = publicKeyInputFromSpki(spki(k));
    const expectKeyType = name === "rsa" ? "rsa" : "ec";
    assert.deepEqual(await verifyOffThread({ key, hash, data, signature, expectKeyType }), { result: "verified", keyType: expectKeyType }, name);
    assert.deepEqual(await verifyOffThread({ key, hash, data: Buffer.from("something else"), signature, expectKeyType }), { result: "invalid", keyType: expectKeyType }, name);
    // A signature that is not even well-formed is "invalid", not an exception.
    assert.equal((await verifyOffThread({ key, hash, data, signature: Buffer.from("junk"), expectKeyType })).result, "invalid", name);
  }
  // The workers lowered their own priority (Linux: each thread is a task with its own nice value).
  if (process.platform === "linux") {
    const niceOf = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ")[16]);
    assert.ok(readdirSync("/proc/self/task").some((tid) => niceOf(tid) === 7), "a worker thread runs at nice 7");
  }
});

test("a key of the wrong type is not used, and an unusable key says so", async () => {
  const signature = sign("sha256", data, ec.privateKey);
  assert.deepEqual(await verifyOffThread({ key: publicKeyInputFromSpki(spki(ec)), hash: "sha256", data, signature, expectKeyType: "rsa" }), { result: "wrong-key-type", keyType: "ec" });
  assert.deepEqual(await verifyOffThread({ key: publicKeyInputFromSpki(Buffer.from("not a key")), hash: "sha256", data, signature }), { result: "key-unusable" });
  // A P-256 point that is not on the curve: our reader takes it, OpenSSL refuses it.
  const bad = Buffer.from(spki(ec));
  bad[bad.length - 1]! ^= 1;
  assert.deepEqual(await verifyOffThread({ key: publicKeyInputFromSpki(bad), hash: "sha256", data, signature }), { result: "key-unusable" });
});

test("hundreds of checks in flight come back to their own callers", async () => {
  const signature = sign("sha256", data, ec.privateKey);
  const key = publicKeyInputFromSpki(spki(ec));
  const results = await Promise.all(Array.from({ length: 400 }, (_, i) =>
    verifyOffThread({ key, hash: "sha256", data: i % 3 ? data : Buffer.from(`other ${i}`), signature, expectKeyType: "ec" })));
  results.forEach((r, i) => assert.equal(r.result, i % 3 ? "verified" : "invalid", `check ${i}`));
});

test("an idle pool never keeps a process alive, and a pending check does", () => {
  const script = `
    import { generateKeyPairSync, sign } from "node:crypto";
    import { publicKeyInputFromSpki } from "./src/crypto/key-der.ts";
    import { verifyOffThread } from "./src/crypto/verify-pool.ts";
    const k = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const data = Buffer.from("x");
    // Nothing else keeps this process alive while the check runs.
    verifyOffThread({ key: publicKeyInputFromSpki(k.publicKey.export({ format: "der", type: "spki" })), hash: "sha256", data, signature: sign("sha256", data, k.privateKey) })
      .then((r) => console.log(r.result));`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO, encoding: "utf8", timeout: 20_000 });
  assert.equal(out.trim(), "verified", "the answer arrived before the process exited, and then it exited");
});
