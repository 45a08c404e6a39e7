import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { keyMatchesCertificate } from "../../../src/agent/cert/pem.js";

const dir = mkdtempSync(join(tmpdir(), "kms-pem-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

/** A self-signed certificate for a fresh key made by openssl, and that key as PKCS#8. */
const pair = (name: string, keyArgs: string[]) => {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  openssl("req", "-x509", "-newkey", ...keyArgs, "-nodes", "-keyout", key, "-out", crt, "-subj", `/CN=${name}`, "-days", "1");
  return { key: readFileSync(key, "utf8"), cert: new X509Certificate(readFileSync(crt)), keyPath: key };
};

const ec256 = pair("ec256", ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
const ec384 = pair("ec384", ["ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"]);
const rsa = pair("rsa", ["rsa:2048"]);
const pkcs8 = (pem: string) => createPrivateKey(pem).export({ type: "pkcs8", format: "pem" }).toString();

test("a key matches its own certificate, in every form: PKCS#8 with and without its public key, SEC1, PKCS#1", () => {
  for (const { key, cert } of [ec256, ec384, rsa]) {
    assert.ok(keyMatchesCertificate(key, cert));
    assert.ok(keyMatchesCertificate(key, cert.toString()), "certificate given as PEM");
    assert.ok(keyMatchesCertificate(pkcs8(key), cert), "as Node writes PKCS#8");
  }
  const sec1 = createPrivateKey(ec256.key).export({ type: "sec1", format: "pem" }).toString();
  assert.ok(keyMatchesCertificate(sec1, ec256.cert));
  const pkcs1 = createPrivateKey(rsa.key).export({ type: "pkcs1", format: "pem" }).toString();
  assert.ok(keyMatchesCertificate(pkcs1, rsa.cert));
  // An EC key without its optional public key: nothing to compare, so OpenSSL decides (and derives it).
  openssl("ec", "-in", ec256.keyPath, "-no_public", "-out", join(dir, "ec256.nopub"));
  const noPublic = openssl("pkcs8", "-topk8", "-nocrypt", "-in", join(dir, "ec256.nopub"));
  const point = ec256.cert.publicKey.export({ type: "spki", format: "der" }).subarray(-65);
  assert.ok(!Buffer.from(noPublic.replace(/-----[A-Z ]+-----|\s/g, ""), "base64").includes(point), "the fixture has no public key");
  assert.ok(keyMatchesCertificate(noPublic, ec256.cert));
});

test("another key, of the same or another kind, does not match; neither does garbage", () => {
  const other = pkcs8(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  assert.equal(keyMatchesCertificate(other, ec256.cert), false);
  assert.equal(keyMatchesCertificate(ec384.key, ec256.cert), false);
  assert.equal(keyMatchesCertificate(rsa.key, ec256.cert), false);
  assert.equal(keyMatchesCertificate(ec256.key, rsa.cert), false);
  assert.equal(keyMatchesCertificate("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", ec256.cert), false);
  assert.equal(keyMatchesCertificate("not a key", ec256.cert), false);
});
