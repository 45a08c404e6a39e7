import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { keyAuthorization, dns01Value, parseJws, publicJwk, thumbprintOf, verifyJws } from "../../../src/core/acme/jws.js";
import { AcmeProblem } from "../../../src/core/acme/problem.js";
import { newKey, sign } from "./client.js";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jws = (header: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ protected: b64(header), payload: "", signature: "AA", ...extra });
const ok = { alg: "ES256", nonce: "n", url: "https://kms/x", kid: "https://kms/acct/1" };

const cases: { name: string; body: unknown; problem: string; detail?: RegExp }[] = [
  { name: "not JSON", body: "{", problem: "malformed", detail: /not a JSON object/ },
  { name: "general serialization", body: { signatures: [] }, problem: "malformed", detail: /flattened/ },
  { name: "unprotected header", body: jws(ok, { header: { kid: "x" } }), problem: "malformed", detail: /unprotected header/ },
  { name: "protected header not base64url", body: jws(ok, { protected: "***" }), problem: "malformed" },
  { name: "alg none", body: jws({ ...ok, alg: "none" }), problem: "badSignatureAlgorithm" },
  { name: "MAC algorithm", body: jws({ ...ok, alg: "HS256" }), problem: "badSignatureAlgorithm" },
  { name: "no url", body: jws({ ...ok, url: undefined }), problem: "malformed", detail: /url/ },
  { name: "jwk and kid", body: jws({ ...ok, jwk: { kty: "EC" } }), problem: "malformed", detail: /exactly one of jwk and kid/ },
  { name: "neither jwk nor kid", body: jws({ ...ok, kid: undefined }), problem: "malformed", detail: /exactly one/ },
  { name: "no nonce", body: jws({ ...ok, nonce: undefined }), problem: "badNonce" },
  { name: "unencoded payload (b64)", body: jws({ ...ok, b64: false, crit: ["b64"] }), problem: "malformed", detail: /b64 and crit/ },
];
for (const c of cases)
  test(`parseJws refuses: ${c.name}`, () => {
    assert.throws(() => parseJws(c.body), (e: unknown) => e instanceof AcmeProblem && e.type === c.problem && (!c.detail || c.detail.test(e.detail)));
  });

for (const alg of ["ES256", "RS256"] as const)
  test(`${alg}: a signature by the key verifies, by another key does not`, async () => {
    const key = await newKey(alg);
    const signed = await sign(key, { nonce: "n", url: "https://kms/x", jwk: key.jwk }, { hello: 1 });
    const p = parseJws(JSON.stringify(signed));
    assert.equal(Buffer.from(await verifyJws(p, key.jwk)).toString(), '{"hello":1}');
    const other = await newKey(alg);
    await assert.rejects(verifyJws(p, other.jwk), (e: unknown) => e instanceof AcmeProblem && e.type === "malformed");
  });

test("a private key in a request is refused", () => {
  assert.throws(() => publicJwk({ kty: "EC", crv: "P-256", x: "x", y: "y", d: "secret" }), (e: unknown) => e instanceof AcmeProblem && e.type === "badPublicKey");
});

test("RFC 7638 3.1: the example RSA key's thumbprint", async () => {
  const jwk = {
    kty: "RSA", e: "AQAB", alg: "RS256", kid: "2011-04-29",
    n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
  };
  assert.equal(await thumbprintOf(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
});

test("key authorization and its dns-01 digest (RFC 8555 8.1, 8.4)", () => {
  const ka = keyAuthorization("token", "thumb");
  assert.equal(ka, "token.thumb");
  assert.equal(dns01Value(ka), createHash("sha256").update("token.thumb").digest("base64url"));
});
