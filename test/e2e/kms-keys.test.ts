import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPublicKey, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InfisicalSDK } from "@infisical/sdk";
import BetterSqlite3 from "better-sqlite3";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { openssl, scratch } from "../helpers/openssl.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";

/**
 * api.md 6 (customer-managed keys) against a real server process: every route, the project roles, every error
 * of the contract, key material and plaintext never stored or logged in the clear, signatures checked by
 * openssl, and the official SDK's kms() client. A shorter run repeats the core on PostgreSQL.
 */
const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64");
const hashOf = (alg: string) => (/SHA_512$/.test(alg) ? "sha512" : /SHA_384$/.test(alg) ? "sha384" : "sha256");
const RSA_ALGS = ["RSASSA_PSS_SHA_512", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_512", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_256"];
const EC_ALGS = ["ECDSA_SHA_512", "ECDSA_SHA_384", "ECDSA_SHA_256"];
const issuesOf = (m: unknown) => (Array.isArray(m) ? m.map((i: { path: string[]; message: string }) => `${i.path.join(".")}: ${i.message}`).join("; ") : String(m));

/** openssl's verdict on a signature over `data` (whole message) and over its digest (pkeyutl), with the SPKI from the server. */
const opensslVerifies = (publicKeyB64: string, alg: string, data: Buffer, signature: Buffer) => {
  const dir = scratch("kms-keys-");
  const pem = createPublicKey({ key: Buffer.from(publicKeyB64, "base64"), format: "der", type: "spki" }).export({ type: "spki", format: "pem" });
  const pub = dir.write("pub.pem", pem);
  const sig = dir.write("sig", signature);
  const msg = dir.write("data", data);
  const hash = hashOf(alg);
  const dig = dir.write("dig", createHash(hash).update(data).digest());
  const pss = alg.startsWith("RSASSA_PSS");
  const dgst = openssl("dgst", `-${hash}`, "-verify", pub, ...(pss ? ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"] : []), "-signature", sig, msg);
  const pkeyutl = openssl("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-pkeyopt", `digest:${hash}`,
    ...(pss ? ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:-1"] : []), "-in", dig, "-sigfile", sig);
  return { dgst: dgst.status === 0, pkeyutl: pkeyutl.status === 0 };
};

describe("KMS keys: API contract (SQLite)", () => {
  let s: TestServer;
  let projectId = "";
  let otherProjectId = "";
  const tokens: Record<string, string> = {};
  const call = (method: string, path: string, body?: unknown, who = "admin") => api(s.address, method, path, { token: tokens[who], body });
  const create = (body: Record<string, unknown>, who = "admin") => call("POST", "/api/v1/kms/keys", { projectId, ...body }, who);
  const keys: Record<string, any> = {};
  const marker = `plaintext-marker-${randomBytes(8).toString("hex")}`;

  before(async () => {
    s = await startServer();
    tokens.admin = s.adminToken;
    const p = await call("POST", "/api/v1/projects", { projectName: "Keys", slug: "kms-keys", type: "kms" });
    assert.equal(p.status, 200, p.text);
    projectId = p.body.project.id;
    const p2 = await call("POST", "/api/v1/projects", { projectName: "Other", slug: "other-keys", type: "kms" });
    otherProjectId = p2.body.project.id;
    for (const role of ["admin", "member", "viewer"]) {
      const c = await createUaIdentity(s, `kms-${role}`);
      const m = await call("POST", `/api/v1/projects/${projectId}/memberships/identities/${c.identityId}`, { roles: [{ role, isTemporary: false }] });
      assert.equal(m.status, 200, m.text);
      tokens[role === "admin" ? "projectAdmin" : role] = await login(s.address, c.clientId, c.clientSecret);
    }
    const outsider = await createUaIdentity(s, "kms-outsider");
    tokens.outsider = await login(s.address, outsider.clientId, outsider.clientSecret);
  });
  after(() => s?.cleanup());

  test("create: defaults, every algorithm, the key object of 6.1; only project admins", async () => {
    const r = await create({ name: "default-key", description: "the default" }, "projectAdmin");
    assert.equal(r.status, 200, r.text);
    const k = r.body.key;
    assert.deepEqual(Object.keys(k).sort(), ["createdAt", "description", "encryptionAlgorithm", "id", "isDisabled", "keyUsage", "name", "orgId", "projectId", "updatedAt", "version"]);
    assert.match(k.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual({ ...k, id: 0, createdAt: 0, updatedAt: 0 }, {
      id: 0, name: "default-key", description: "the default", isDisabled: false, orgId: s.orgId, projectId, keyUsage: "encrypt-decrypt",
      encryptionAlgorithm: "aes-256-gcm", version: 1, createdAt: 0, updatedAt: 0,
    });
    keys.aes256 = k;
    keys.aes128 = (await create({ name: "aes128", keyUsage: "encrypt-decrypt", encryptionAlgorithm: "aes-128-gcm" })).body.key;
    assert.equal(keys.aes128.encryptionAlgorithm, "aes-128-gcm");
    assert.equal(keys.aes128.description, "");
    const [rsa, ec] = await Promise.all([
      create({ name: "rsa", keyUsage: "sign-verify", encryptionAlgorithm: "RSA_4096" }),
      create({ name: "ec", keyUsage: "sign-verify", encryptionAlgorithm: "ECC_NIST_P256" }),
    ]);
    assert.equal(rsa.status, 200, rsa.text);
    assert.equal(ec.status, 200, ec.text);
    keys.rsa = rsa.body.key;
    keys.ec = ec.body.key;
    assert.equal(keys.rsa.keyUsage, "sign-verify");
    assert.equal(keys.ec.encryptionAlgorithm, "ECC_NIST_P256");

    for (const who of ["member", "viewer", "outsider"]) {
      const denied = await create({ name: `by-${who}` }, who);
      assert.equal(denied.status, 403, `${who}: ${denied.text}`);
      assert.equal(denied.body.error, "PermissionDenied");
    }
  });

  test("create: errors (duplicate 400; bad pairs, names, descriptions 422; unknown project 404)", async () => {
    const dup = await create({ name: "default-key" });
    assert.equal(dup.status, 400);
    assert.match(dup.body.message, /already exists/);
    assert.equal((await call("POST", "/api/v1/kms/keys", { projectId: otherProjectId, name: "default-key" })).status, 200, "names are unique per project");

    const bad: [Record<string, unknown>, RegExp][] = [
      [{ name: "sv", keyUsage: "sign-verify" }, /encryptionAlgorithm: aes-256-gcm cannot be used for sign-verify/],
      [{ name: "sv", keyUsage: "sign-verify", encryptionAlgorithm: "aes-128-gcm" }, /encryptionAlgorithm/],
      [{ name: "ed", encryptionAlgorithm: "RSA_4096" }, /encryptionAlgorithm: RSA_4096 cannot be used for encrypt-decrypt/],
      [{ name: "ed", keyUsage: "encrypt-decrypt", encryptionAlgorithm: "ECC_NIST_P256" }, /encryptionAlgorithm/],
      [{ name: "x", encryptionAlgorithm: "des" }, /body.encryptionAlgorithm/],
      [{ name: "x", keyUsage: "wrap" }, /body.keyUsage/],
      [{ name: "" }, /body.name/],
      [{ name: "a".repeat(33) }, /body.name/],
      [{ name: "Upper" }, /body.name/],
      [{ name: "has space" }, /body.name/],
      [{ name: "ok-name", description: "d".repeat(501) }, /body.description/],
      [{ name: 5 }, /body.name/],
    ];
    for (const [body, message] of bad) {
      const r = await create(body);
      assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error, "ValidationFailure");
      assert.match(issuesOf(r.body.message), message);
    }
    assert.equal((await call("POST", "/api/v1/kms/keys", { name: "x" })).status, 422, "projectId is required");
    assert.equal((await create({ name: "a".repeat(32), description: "d".repeat(500) })).status, 200, "32 characters and 500 are the limits");
    const unknown = await call("POST", "/api/v1/kms/keys", { projectId: "00000000-0000-4000-8000-000000000000", name: "x" });
    assert.equal(unknown.status, 404);
  });

  test("get by id and by name; list with paging, order and search; roles", async () => {
    for (const who of ["admin", "projectAdmin", "member", "viewer"]) {
      const r = await call("GET", `/api/v1/kms/keys/${keys.ec.id}`, undefined, who);
      assert.equal(r.status, 200, `${who}: ${r.text}`);
      assert.deepEqual(r.body.key, keys.ec);
    }
    assert.equal((await call("GET", `/api/v1/kms/keys/${keys.ec.id}`, undefined, "outsider")).status, 403);
    assert.equal((await call("GET", `/api/v1/kms/keys/not-a-uuid`)).status, 422);
    const missing = await call("GET", "/api/v1/kms/keys/00000000-0000-4000-8000-000000000000");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, "NotFound");

    const byName = await call("GET", `/api/v1/kms/keys/key-name/rsa?projectId=${projectId}`, undefined, "viewer");
    assert.equal(byName.status, 200, byName.text);
    assert.deepEqual(byName.body.key, keys.rsa);
    assert.equal((await call("GET", `/api/v1/kms/keys/key-name/nope?projectId=${projectId}`)).status, 404);
    assert.equal((await call("GET", "/api/v1/kms/keys/key-name/rsa")).status, 422, "projectId is required");
    assert.equal((await call("GET", `/api/v1/kms/keys/key-name/rsa?projectId=${otherProjectId}`)).status, 404, "names are looked up in the given project");
    assert.equal((await call("GET", `/api/v1/kms/keys/key-name/rsa?projectId=${projectId}`, undefined, "outsider")).status, 403);

    const all = await call("GET", `/api/v1/kms/keys?projectId=${projectId}`, undefined, "viewer");
    assert.equal(all.status, 200, all.text);
    const names = ["a".repeat(32), "aes128", "default-key", "ec", "rsa"];
    assert.deepEqual(all.body.keys.map((k: any) => k.name), names);
    assert.equal(all.body.totalCount, 5);
    const page = await call("GET", `/api/v1/kms/keys?projectId=${projectId}&offset=1&limit=2&orderBy=name&orderDirection=desc`);
    assert.deepEqual(page.body.keys.map((k: any) => k.name), ["ec", "default-key"]);
    assert.equal(page.body.totalCount, 5);
    const found = await call("GET", `/api/v1/kms/keys?projectId=${projectId}&search=E`);
    assert.deepEqual(found.body.keys.map((k: any) => k.name), ["aes128", "default-key", "ec"]);
    assert.equal(found.body.totalCount, 3);
    for (const q of ["limit=101", "limit=0", "offset=-1", "limit=ten", "orderBy=createdAt", "orderDirection=up"])
      assert.equal((await call("GET", `/api/v1/kms/keys?projectId=${projectId}&${q}`)).status, 422, q);
    assert.equal((await call("GET", "/api/v1/kms/keys")).status, 422, "projectId is required");
    assert.equal((await call("GET", `/api/v1/kms/keys?projectId=${projectId}`, undefined, "outsider")).status, 403);
    const etag = all.headers.get("etag");
    assert.ok(etag, "a JSON GET carries an ETag (api.md 0.2)");
  });

  test("encrypt and decrypt: both AES sizes, limits, corrupt and foreign ciphertext, usage and roles", async () => {
    for (const k of [keys.aes256, keys.aes128]) {
      const plaintext = b64(marker);
      const e = await call("POST", `/api/v1/kms/keys/${k.id}/encrypt`, { keyId: k.id, plaintext }, "member");
      assert.equal(e.status, 200, e.text);
      assert.deepEqual(Object.keys(e.body), ["ciphertext"]);
      assert.ok(!Buffer.from(e.body.ciphertext, "base64").includes(marker));
      const d = await call("POST", `/api/v1/kms/keys/${k.id}/decrypt`, { keyId: k.id, ciphertext: e.body.ciphertext }, "member");
      assert.equal(d.status, 200, d.text);
      assert.equal(d.body.plaintext, plaintext);
      const again = await call("POST", `/api/v1/kms/keys/${k.id}/encrypt`, { plaintext }, "member");
      assert.notEqual(again.body.ciphertext, e.body.ciphertext, "a fresh IV every time");
    }
    const k = keys.aes256;
    const enc = (plaintext: unknown, who = "member") => call("POST", `/api/v1/kms/keys/${k.id}/encrypt`, { plaintext }, who);
    const dec = (ciphertext: unknown, id = k.id, who = "member") => call("POST", `/api/v1/kms/keys/${id}/decrypt`, { ciphertext }, who);

    const empty = await enc("");
    assert.equal(empty.status, 200, empty.text);
    assert.equal((await dec(empty.body.ciphertext)).body.plaintext, "");
    const max = randomBytes(4096);
    const big = await enc(b64(max));
    assert.equal(big.status, 200, "4096 bytes is the limit");
    assert.equal((await dec(big.body.ciphertext)).body.plaintext, b64(max));
    const tooBig = await enc(b64(randomBytes(4097)));
    assert.equal(tooBig.status, 422);
    assert.match(issuesOf(tooBig.body.message), /body.plaintext: must decode to at most 4096 bytes/);
    for (const p of ["not base64!", "abc", 12, undefined]) assert.equal((await enc(p)).status, 422, String(p));

    const good = (await enc(b64("hello"))).body.ciphertext as string;
    const raw = Buffer.from(good, "base64");
    for (const [what, bad] of [
      ["a flipped tag bit", (() => { const b = Buffer.from(raw); b[20]! ^= 1; return b64(b); })()],
      ["a flipped ciphertext bit", (() => { const b = Buffer.from(raw); b[b.length - 1]! ^= 1; return b64(b); })()],
      ["another version number", (() => { const b = Buffer.from(raw); b.writeUInt32BE(7, 1); return b64(b); })()],
      ["version 0", (() => { const b = Buffer.from(raw); b.writeUInt32BE(0, 1); return b64(b); })()],
      ["an unknown format byte", (() => { const b = Buffer.from(raw); b[0] = 9; return b64(b); })()],
      ["a truncated one", b64(raw.subarray(0, 20))],
      ["not base64", "!!!!"],
      ["random bytes", b64(randomBytes(64))],
    ] as const) {
      const r = await dec(bad);
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.equal(r.body.error, "BadRequest");
    }
    const foreign = await dec(good, keys.aes128.id);
    assert.equal(foreign.status, 400, "a ciphertext of another key does not decrypt");
    assert.match(foreign.body.message, /not a ciphertext of this key/);
    assert.equal((await dec("")).status, 422);

    for (const [path, body] of [["encrypt", { plaintext: b64("x") }], ["decrypt", { ciphertext: good }]] as const) {
      const wrong = await call("POST", `/api/v1/kms/keys/${keys.ec.id}/${path}`, body);
      assert.equal(wrong.status, 400, `${path} with a sign-verify key`);
      assert.match(wrong.body.message, /sign-verify key/);
      assert.equal((await call("POST", `/api/v1/kms/keys/${k.id}/${path}`, body, "viewer")).status, 403, `${path} as viewer`);
      assert.equal((await call("POST", `/api/v1/kms/keys/${k.id}/${path}`, body, "outsider")).status, 403, `${path} as outsider`);
      assert.equal((await call("POST", `/api/v1/kms/keys/nope/${path}`, body)).status, 422);
      assert.equal((await call("POST", `/api/v1/kms/keys/00000000-0000-4000-8000-000000000000/${path}`, body)).status, 404);
    }
  });

  test("update: rename, description, disable (encrypt/decrypt/sign/verify refused), re-enable; errors and roles", async () => {
    const k = keys.aes128;
    const ct = (await call("POST", `/api/v1/kms/keys/${k.id}/encrypt`, { plaintext: b64("before") })).body.ciphertext;
    const r = await call("PATCH", `/api/v1/kms/keys/${k.id}`, { name: "aes-small", description: "128 bits" }, "projectAdmin");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.key.name, "aes-small");
    assert.equal(r.body.key.description, "128 bits");
    assert.equal((await call("GET", `/api/v1/kms/keys/key-name/aes-small?projectId=${projectId}`)).body.key.id, k.id);
    assert.equal((await call("PATCH", `/api/v1/kms/keys/${k.id}`, { name: "rsa" })).status, 400, "a rename onto another key's name");
    assert.equal((await call("PATCH", `/api/v1/kms/keys/${k.id}`, { name: "aes-small" })).status, 200, "keeping the name is fine");
    for (const body of [{ name: "Bad Name" }, { description: "d".repeat(501) }, { isDisabled: "yes" }, { name: "a".repeat(33) }])
      assert.equal((await call("PATCH", `/api/v1/kms/keys/${k.id}`, body)).status, 422, JSON.stringify(body));
    for (const who of ["member", "viewer", "outsider"]) assert.equal((await call("PATCH", `/api/v1/kms/keys/${k.id}`, { description: who }, who)).status, 403, who);
    assert.equal((await call("PATCH", "/api/v1/kms/keys/xyz", { description: "" })).status, 422);

    assert.equal((await call("PATCH", `/api/v1/kms/keys/${k.id}`, { isDisabled: true })).body.key.isDisabled, true);
    const encD = await call("POST", `/api/v1/kms/keys/${k.id}/encrypt`, { plaintext: b64("x") });
    assert.equal(encD.status, 400);
    assert.match(encD.body.message, /disabled/);
    assert.equal((await call("POST", `/api/v1/kms/keys/${k.id}/decrypt`, { ciphertext: ct })).status, 400);
    await call("PATCH", `/api/v1/kms/keys/${keys.ec.id}`, { isDisabled: true });
    const data = b64("x");
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.ec.id}/sign`, { data, signingAlgorithm: "ECDSA_SHA_256" })).status, 400);
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.ec.id}/verify`, { data, signature: b64("sig"), signingAlgorithm: "ECDSA_SHA_256" })).status, 400);
    assert.equal((await call("PATCH", `/api/v1/kms/keys/${keys.ec.id}`, { isDisabled: false })).body.key.isDisabled, false);
    assert.equal((await call("PATCH", `/api/v1/kms/keys/${k.id}`, { isDisabled: false })).status, 200);
    const back = await call("POST", `/api/v1/kms/keys/${k.id}/decrypt`, { ciphertext: ct });
    assert.equal(back.body.plaintext, b64("before"), "a renamed, re-enabled key decrypts what it encrypted before");
  });

  test("sign and verify: every algorithm, whole messages and digests, checked by openssl", async () => {
    const data = Buffer.from(`message ${marker}`);
    for (const [k, algs] of [[keys.rsa, RSA_ALGS], [keys.ec, EC_ALGS]] as const) {
      const listed = await call("GET", `/api/v1/kms/keys/${k.id}/signing-algorithms`, undefined, "viewer");
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.body.signingAlgorithms, algs, "api.md 6.3, in order");
      const pk = await call("GET", `/api/v1/kms/keys/${k.id}/public-key`, undefined, "viewer");
      assert.equal(pk.status, 200, pk.text);
      const spki = createPublicKey({ key: Buffer.from(pk.body.publicKey, "base64"), format: "der", type: "spki" });
      assert.equal(spki.asymmetricKeyType, k === keys.rsa ? "rsa" : "ec");
      if (k === keys.rsa) assert.equal(spki.asymmetricKeyDetails!.modulusLength, 4096);
      else assert.equal(spki.asymmetricKeyDetails!.namedCurve, "prime256v1");

      for (const signingAlgorithm of algs) {
        const digest = createHash(hashOf(signingAlgorithm)).update(data).digest();
        for (const isDigest of [false, true]) {
          const what = `${signingAlgorithm} isDigest=${isDigest}`;
          const signed = await call("POST", `/api/v1/kms/keys/${k.id}/sign`, { keyId: k.id, signingAlgorithm, data: b64(isDigest ? digest : data), ...(isDigest && { isDigest }) }, "member");
          assert.equal(signed.status, 200, `${what}: ${signed.text}`);
          assert.deepEqual(Object.keys(signed.body).sort(), ["keyId", "signature", "signingAlgorithm"]);
          assert.equal(signed.body.keyId, k.id);
          assert.equal(signed.body.signingAlgorithm, signingAlgorithm);
          const signature = Buffer.from(signed.body.signature, "base64");
          assert.deepEqual(opensslVerifies(pk.body.publicKey, signingAlgorithm, data, signature), { dgst: true, pkeyutl: true }, what);

          for (const vDigest of [false, true]) {
            const v = await call("POST", `/api/v1/kms/keys/${k.id}/verify`, { signingAlgorithm, data: b64(vDigest ? digest : data), signature: signed.body.signature, isDigest: vDigest }, "viewer");
            assert.equal(v.status, 200, v.text);
            assert.deepEqual(v.body, { signatureValid: true, keyId: k.id, signingAlgorithm }, `${what} verified with isDigest=${vDigest}`);
          }
          const tampered = Buffer.from(signature);
          tampered[tampered.length - 3]! ^= 0x10;
          const t1 = await call("POST", `/api/v1/kms/keys/${k.id}/verify`, { signingAlgorithm, data: b64(data), signature: b64(tampered) });
          assert.equal(t1.body.signatureValid, false, `${what}: a tampered signature`);
          const t2 = await call("POST", `/api/v1/kms/keys/${k.id}/verify`, { signingAlgorithm, data: b64("other data"), signature: signed.body.signature });
          assert.equal(t2.body.signatureValid, false, `${what}: other data`);
        }
      }
    }
    // A signature of one algorithm does not pass as another's, and a garbage signature is just invalid.
    const s256 = (await call("POST", `/api/v1/kms/keys/${keys.rsa.id}/sign`, { signingAlgorithm: "RSASSA_PSS_SHA_256", data: b64(data) })).body.signature;
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.rsa.id}/verify`, { signingAlgorithm: "RSASSA_PKCS1_V1_5_SHA_256", data: b64(data), signature: s256 })).body.signatureValid, false);
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.ec.id}/verify`, { signingAlgorithm: "ECDSA_SHA_256", data: b64(data), signature: b64("junk") })).body.signatureValid, false);
  });

  test("sign and verify: errors (algorithm of another key type, digest length, limits, usage, roles)", async () => {
    const sign = (id: string, body: Record<string, unknown>, who = "member") => call("POST", `/api/v1/kms/keys/${id}/sign`, body, who);
    const data = b64("data");
    const wrongAlg = await sign(keys.ec.id, { signingAlgorithm: "RSASSA_PSS_SHA_256", data });
    assert.equal(wrongAlg.status, 400);
    assert.match(wrongAlg.body.message, /RSASSA_PSS_SHA_256 cannot be used with ECC_NIST_P256/);
    assert.equal((await sign(keys.rsa.id, { signingAlgorithm: "ECDSA_SHA_256", data })).status, 400);
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.rsa.id}/verify`, { signingAlgorithm: "ECDSA_SHA_256", data, signature: data })).status, 400);
    for (const body of [{ signingAlgorithm: "ECDSA_SHA_1", data }, { data }, { signingAlgorithm: "ECDSA_SHA_256", data: "%%" }, { signingAlgorithm: "ECDSA_SHA_256", data: b64(randomBytes(4097)) }, { signingAlgorithm: "ECDSA_SHA_256", data, isDigest: "true" }])
      assert.equal((await sign(keys.ec.id, body)).status, 422, JSON.stringify(body).slice(0, 80));
    assert.equal((await sign(keys.ec.id, { signingAlgorithm: "ECDSA_SHA_256", data: b64(randomBytes(4096)) })).status, 200, "4096 bytes is the limit");
    for (const [alg, len] of [["ECDSA_SHA_256", 31], ["ECDSA_SHA_384", 32], ["ECDSA_SHA_512", 48]] as const) {
      const r = await sign(keys.ec.id, { signingAlgorithm: alg, data: b64(randomBytes(len)), isDigest: true });
      assert.equal(r.status, 400, `${alg} with a ${len}-byte digest`);
      assert.match(r.body.message, /digest of \d+ bytes/);
    }
    assert.equal((await sign(keys.rsa.id, { signingAlgorithm: "RSASSA_PKCS1_V1_5_SHA_512", data: b64(randomBytes(32)), isDigest: true })).status, 400);
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.ec.id}/verify`, { signingAlgorithm: "ECDSA_SHA_256", data: b64(randomBytes(20)), signature: data, isDigest: true })).status, 400);
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.ec.id}/verify`, { signingAlgorithm: "ECDSA_SHA_256", data, signature: "no!" })).status, 422);

    const onAes = await sign(keys.aes256.id, { signingAlgorithm: "ECDSA_SHA_256", data });
    assert.equal(onAes.status, 400);
    assert.match(onAes.body.message, /encrypt-decrypt key/);
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.aes256.id}/verify`, { signingAlgorithm: "ECDSA_SHA_256", data, signature: data })).status, 400);
    assert.equal((await call("GET", `/api/v1/kms/keys/${keys.aes256.id}/public-key`)).status, 400, "an encrypt-decrypt key has no public key");
    assert.equal((await call("GET", `/api/v1/kms/keys/${keys.aes256.id}/signing-algorithms`)).status, 400);

    assert.equal((await sign(keys.ec.id, { signingAlgorithm: "ECDSA_SHA_256", data }, "viewer")).status, 403, "viewers do not sign");
    assert.equal((await sign(keys.ec.id, { signingAlgorithm: "ECDSA_SHA_256", data }, "outsider")).status, 403);
    for (const path of ["public-key", "signing-algorithms"]) {
      assert.equal((await call("GET", `/api/v1/kms/keys/${keys.ec.id}/${path}`, undefined, "outsider")).status, 403, path);
      assert.equal((await call("GET", `/api/v1/kms/keys/bad/${path}`)).status, 422, path);
    }
  });

  test("rotate and versions: old ciphertext still decrypts, new ciphertext uses the new version", async () => {
    const k = keys.aes256;
    const old = (await call("POST", `/api/v1/kms/keys/${k.id}/encrypt`, { plaintext: b64("v1 data") })).body.ciphertext;
    for (const who of ["member", "viewer"]) assert.equal((await call("POST", `/api/v1/kms/keys/${k.id}/rotate`, {}, who)).status, 403, who);
    const r = await call("POST", `/api/v1/kms/keys/${k.id}/rotate`, {}, "projectAdmin");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.key.version, 2);
    assert.equal((await call("GET", `/api/v1/kms/keys/${k.id}`)).body.key.version, 2);
    const fresh = (await call("POST", `/api/v1/kms/keys/${k.id}/encrypt`, { plaintext: b64("v2 data") })).body.ciphertext;
    assert.equal(Buffer.from(fresh, "base64").readUInt32BE(1), 2, "the ciphertext names its version");
    assert.equal((await call("POST", `/api/v1/kms/keys/${k.id}/decrypt`, { ciphertext: old })).body.plaintext, b64("v1 data"));
    assert.equal((await call("POST", `/api/v1/kms/keys/${k.id}/decrypt`, { ciphertext: fresh })).body.plaintext, b64("v2 data"));
    const v = await call("GET", `/api/v1/kms/keys/${k.id}/versions`, undefined, "viewer");
    assert.deepEqual(v.body.versions.map((x: any) => x.version), [2, 1]);
    // A rotated signing key signs with its new key pair; the public key route follows.
    const pk1 = (await call("GET", `/api/v1/kms/keys/${keys.ec.id}/public-key`)).body.publicKey;
    const sigV1 = (await call("POST", `/api/v1/kms/keys/${keys.ec.id}/sign`, { signingAlgorithm: "ECDSA_SHA_256", data: b64("before") })).body.signature;
    assert.equal((await call("POST", `/api/v1/kms/keys/${keys.ec.id}/rotate`, {})).body.key.version, 2);
    const pk2 = (await call("GET", `/api/v1/kms/keys/${keys.ec.id}/public-key`)).body.publicKey;
    assert.notEqual(pk2, pk1);
    const sig = (await call("POST", `/api/v1/kms/keys/${keys.ec.id}/sign`, { signingAlgorithm: "ECDSA_SHA_256", data: b64("after") })).body.signature;
    assert.equal(opensslVerifies(pk2, "ECDSA_SHA_256", Buffer.from("after"), Buffer.from(sig, "base64")).dgst, true);
    // Signatures do not name their version: one made before the rotation still verifies, whole or as a digest.
    const verifies = async (data: Buffer, signature: string, isDigest = false) =>
      (await call("POST", `/api/v1/kms/keys/${keys.ec.id}/verify`, { signingAlgorithm: "ECDSA_SHA_256", data: data.toString("base64"), signature, isDigest }, "viewer")).body.signatureValid;
    assert.equal(await verifies(Buffer.from("before"), sigV1), true, "a signature of version 1 after the rotation");
    assert.equal(await verifies(createHash("sha256").update("before").digest(), sigV1, true), true, "the same, as a digest");
    assert.equal(await verifies(Buffer.from("after"), sig), true);
    assert.equal(await verifies(Buffer.from("other"), sigV1), false, "no version verifies other data");
  });

  test("at rest: no key material, plaintext or private key in the database file or the log", async () => {
    const dbBytes = () => Buffer.concat(["kms.sqlite", "kms.sqlite-wal"].map((f) => join(s.dataDir, f)).filter(existsSync).map((f) => readFileSync(f)));
    const sqlite = new BetterSqlite3(join(s.dataDir, "kms.sqlite"), { readonly: true });
    try {
      const rows = sqlite.prepare("SELECT kms_key_id, version, encrypted_material, public_key FROM kms_key_versions").all() as { kms_key_id: string; encrypted_material: string; public_key: string | null }[];
      assert.ok(rows.length >= 6);
      for (const r of rows) assert.match(r.encrypted_material, /^v1\.[A-Za-z0-9+/=]+$/, "material is sealed (envelope format)");
      const all = dbBytes();
      for (const r of rows.filter((x) => x.public_key)) {
        // A PKCS#8 private key embeds the public modulus (RSA) or point (EC): in the clear it would show here.
        const jwk = createPublicKey({ key: Buffer.from(r.public_key!, "base64"), format: "der", type: "spki" }).export({ format: "jwk" });
        const raw = Buffer.from((jwk.n ?? jwk.x)!, "base64url");
        assert.equal(all.includes(raw), false, "no raw public component, so no PKCS#8 private key in the clear");
        assert.equal(all.includes(Buffer.from("-----BEGIN PRIVATE KEY-----")), false);
      }
    } finally {
      sqlite.close();
    }
    const all = dbBytes();
    assert.equal(all.includes(Buffer.from(marker)), false, "plaintext never reaches the database");
    assert.equal(all.includes(Buffer.from(b64(marker))), false);
    assert.equal(s.output().includes(marker), false, "nor the log");
    const audit = await call("GET", `/api/v1/projects/${projectId}/audit-logs?limit=500`);
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.text.includes(marker) || audit.text.includes(b64(marker)), false, "nor the audit log");
    const actions = new Set(audit.body.auditLogs.map((e: any) => e.action));
    for (const a of ["create-kms-key", "update-kms-key", "rotate-kms-key", "kms-key-encrypt", "kms-key-decrypt", "kms-key-sign", "kms-key-verify"]) assert.ok(actions.has(a), `audit event ${a}`);
  });

  test("delete: admins only; the key is gone afterwards, and goes with its project", async () => {
    const k = keys.aes128;
    for (const who of ["member", "viewer", "outsider"]) assert.equal((await call("DELETE", `/api/v1/kms/keys/${k.id}`, undefined, who)).status, 403, who);
    const r = await call("DELETE", `/api/v1/kms/keys/${k.id}`, undefined, "projectAdmin");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.key.id, k.id);
    assert.equal(r.body.key.name, "aes-small");
    assert.equal((await call("GET", `/api/v1/kms/keys/${k.id}`)).status, 404);
    assert.equal((await call("POST", `/api/v1/kms/keys/${k.id}/encrypt`, { plaintext: b64("x") })).status, 404);
    assert.equal((await call("DELETE", `/api/v1/kms/keys/${k.id}`)).status, 404);
    assert.equal((await call("DELETE", "/api/v1/kms/keys/zzz")).status, 422);
    const inOther = (await call("GET", `/api/v1/kms/keys/key-name/default-key?projectId=${otherProjectId}`)).body.key;
    assert.equal((await call("DELETE", `/api/v1/projects/${otherProjectId}`)).status, 200);
    assert.equal((await call("GET", `/api/v1/kms/keys/${inOther.id}`)).status, 404);
  });

  test("the official SDK: kms().keys(), encryption(), signing()", async () => {
    const c = await createUaIdentity(s, "kms-sdk", { role: "member" });
    const sdk = new InfisicalSDK({ siteUrl: s.address });
    await sdk.auth().universalAuth.login({ clientId: c.clientId, clientSecret: c.clientSecret });
    const project = await sdk.projects().create({ projectName: "SDK KMS", type: "kms" as never, slug: "sdk-kms" });
    const kms = sdk.kms();
    const enc = await kms.keys().create({ projectId: project.id, name: "sdk-enc", keyUsage: "encrypt-decrypt" as never, encryptionAlgorithm: "aes-256-gcm" as never });
    assert.equal(enc.name, "sdk-enc");
    assert.equal(enc.version, 1);
    const byName = await kms.keys().getByName({ projectId: project.id, name: "sdk-enc" });
    assert.equal(byName.id, enc.id);
    const ciphertext = await kms.encryption().encrypt({ keyId: enc.id, plaintext: b64("from the sdk") });
    assert.equal(await kms.encryption().decrypt({ keyId: enc.id, ciphertext }), b64("from the sdk"));
    await assert.rejects(kms.encryption().decrypt({ keyId: enc.id, ciphertext: b64(randomBytes(40)) }), /\[StatusCode=400\]/);

    const sig = await kms.keys().create({ projectId: project.id, name: "sdk-sign", keyUsage: "sign-verify" as never, encryptionAlgorithm: "ECC_NIST_P256" as never });
    assert.deepEqual(await kms.signing().listSigningAlgorithms({ keyId: sig.id }), EC_ALGS);
    const publicKey = await kms.signing().getPublicKey({ keyId: sig.id });
    const data = Buffer.from("signed by the sdk");
    const signed = await kms.signing().sign({ keyId: sig.id, data: b64(data), signingAlgorithm: "ECDSA_SHA_384" as never });
    assert.equal(signed.signingAlgorithm, "ECDSA_SHA_384");
    assert.deepEqual(opensslVerifies(publicKey, "ECDSA_SHA_384", data, Buffer.from(signed.signature, "base64")), { dgst: true, pkeyutl: true });
    const verified = await kms.signing().verify({ keyId: sig.id, data: b64(data), signature: signed.signature, signingAlgorithm: "ECDSA_SHA_384" as never });
    assert.equal(verified.signatureValid, true);
    const digest = createHash("sha256").update(data).digest();
    const dsig = await kms.signing().sign({ keyId: sig.id, data: b64(digest), signingAlgorithm: "ECDSA_SHA_256" as never, isDigest: true });
    assert.equal((await kms.signing().verify({ keyId: sig.id, data: b64(data), signature: dsig.signature, signingAlgorithm: "ECDSA_SHA_256" as never })).signatureValid, true);

    const deleted = await kms.keys().delete({ keyId: enc.id });
    assert.equal(deleted.id, enc.id);
    await assert.rejects(kms.keys().getByName({ projectId: project.id, name: "sdk-enc" }), /\[StatusCode=404\]/);
  });
});

describe("KMS keys on PostgreSQL", () => {
  let s: TestServer | undefined;
  let database: ReturnType<typeof createPgDatabase> | undefined;
  after(async () => {
    await s?.cleanup();
    database?.drop();
  });

  test("create, list with search, rename conflicts, encrypt/decrypt, rotate, sign/verify, delete", async (t) => {
    if (!(await needService(t, "postgres"))) return;
    database = createPgDatabase();
    s = await startServer({ databaseUrl: database.url });
    const call = (method: string, path: string, body?: unknown) => api(s!.address, method, path, { token: s!.adminToken, body });
    const projectId = (await call("POST", "/api/v1/projects", { projectName: "PG", slug: "pg-keys", type: "kms" })).body.project.id;
    const enc = (await call("POST", "/api/v1/kms/keys", { projectId, name: "pg_enc".replace("_", "-") })).body.key;
    const ec = await call("POST", "/api/v1/kms/keys", { projectId, name: "pg-ec", keyUsage: "sign-verify", encryptionAlgorithm: "ECC_NIST_P256" });
    assert.equal(ec.status, 200, ec.text);
    assert.equal((await call("POST", "/api/v1/kms/keys", { projectId, name: "pg-enc" })).status, 400);
    assert.equal((await call("PATCH", `/api/v1/kms/keys/${enc.id}`, { name: "pg-ec" })).status, 400);
    const found = await call("GET", `/api/v1/kms/keys?projectId=${projectId}&search=EC&orderDirection=desc`);
    assert.deepEqual(found.body.keys.map((k: any) => k.name), ["pg-ec"]);
    assert.equal((await call("GET", `/api/v1/kms/keys?projectId=${projectId}&search=pg_`)).body.totalCount, 0, "_ is literal on PostgreSQL too");
    const ct = (await call("POST", `/api/v1/kms/keys/${enc.id}/encrypt`, { plaintext: b64("pg") })).body.ciphertext;
    assert.equal((await call("POST", `/api/v1/kms/keys/${enc.id}/rotate`, {})).body.key.version, 2);
    assert.equal((await call("POST", `/api/v1/kms/keys/${enc.id}/decrypt`, { ciphertext: ct })).body.plaintext, b64("pg"));
    const signed = await call("POST", `/api/v1/kms/keys/${ec.body.key.id}/sign`, { signingAlgorithm: "ECDSA_SHA_512", data: b64("pg data") });
    const pk = (await call("GET", `/api/v1/kms/keys/${ec.body.key.id}/public-key`)).body.publicKey;
    assert.equal(opensslVerifies(pk, "ECDSA_SHA_512", Buffer.from("pg data"), Buffer.from(signed.body.signature, "base64")).dgst, true);
    assert.equal((await call("DELETE", `/api/v1/kms/keys/${enc.id}`)).status, 200);
    assert.equal((await call("GET", `/api/v1/kms/keys/${enc.id}`)).status, 404);
  });
});
