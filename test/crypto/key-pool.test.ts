import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createECDH, createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { setHelperWorkerNice } from "../../src/crypto/helper-workers.js";
import { takeP256 } from "../../src/crypto/key-pool.js";
import { generateKeyMaterial } from "../../src/crypto/keys.js";
import { REPO } from "../helpers/server.js";

/** Takes keys until the worker's first batch has arrived (the very first take only starts it). */
const takeReady = async () => {
  for (let i = 0; i < 200; i++) {
    const k = takeP256();
    if (k) return k;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("no key from the pool within 2 s");
};

test("keys made ahead are real P-256 key pairs, each handed out once, wiped on request", async () => {
  setHelperWorkerNice(6);
  const first = await takeReady();
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const k = i === 0 ? first : (takeP256() ?? (await takeReady()));
    assert.equal(k.d.length, 32);
    assert.equal(k.point.length, 65);
    assert.equal(k.point[0], 0x04, "uncompressed point");
    // The point is the scalar's: OpenSSL derives the same public key from d.
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(k.d);
    assert.ok(ecdh.getPublicKey().equals(k.point), `key ${i}: point matches scalar`);
    const id = k.d.toString("hex");
    assert.ok(!seen.has(id), `key ${i} was handed out before`);
    seen.add(id);
    k.wipe();
    assert.ok(k.d.every((b) => b === 0) && k.point.every((b) => b === 0), "wipe zeroes the key's bytes");
  }
  if (process.platform === "linux") {
    const niceOf = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ")[16]);
    assert.ok(readdirSync("/proc/self/task").some((tid) => niceOf(tid) === 6), "the key worker runs at nice 6");
  }
});

test("generateKeyMaterial with pooled keys: PKCS#8 and SPKI that OpenSSL reads as one P-256 pair", async () => {
  await takeReady();
  for (let i = 0; i < 100; i++) {
    const m = await generateKeyMaterial("EC_prime256v1");
    const priv = createPrivateKey(m.privateKeyPem);
    assert.equal(priv.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.ok(createPublicKey(priv).export({ type: "spki", format: "der" }).equals(m.spkiDer), `key ${i}: SPKI is the private key's`);
    // Byte for byte what OpenSSL writes for the same key.
    assert.equal(priv.export({ type: "pkcs8", format: "pem" }), m.privateKeyPem);
  }
});

test("an idle key worker never keeps a process alive", () => {
  const script = `
    import { takeP256 } from "./src/crypto/key-pool.ts";
    takeP256(); // starts the worker and asks for a batch
    setTimeout(() => console.log(takeP256() ? "pooled" : "empty"), 500);`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO, encoding: "utf8", timeout: 20_000 });
  assert.equal(out.trim(), "pooled", "the batch arrived, and then the process exited by itself");
});
