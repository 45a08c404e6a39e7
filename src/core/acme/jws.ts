/**
 * The JWS layer of ACME (RFC 8555 6.2): every POST body is a flattened JWS JSON object whose protected
 * header names the algorithm, the nonce, the exact request URL and either the account's key (`jwk`, for
 * newAccount and revocation by certificate key) or the account URL (`kid`). Pure functions: which key
 * a `kid` stands for, and whether the nonce is fresh, are decided by the caller (request.ts).
 */
import { createHash, createPublicKey } from "node:crypto";
import { base64url, calculateJwkThumbprint, flattenedVerify, importJWK } from "jose";
import type { FlattenedJWSInput, JWK } from "jose";
import { problem } from "./problem.js";

/** ES256 is required by RFC 8555 6.2; RS256 is what certbot and many older clients sign with. */
export const ACCOUNT_KEY_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"] as const;
const ALLOWED = new Set<string>(ACCOUNT_KEY_ALGORITHMS);

export interface ProtectedHeader {
  alg: string;
  nonce?: string;
  url?: string;
  jwk?: JWK;
  kid?: string;
  [k: string]: unknown;
}

export interface ParsedJws {
  readonly jws: FlattenedJWSInput;
  readonly header: ProtectedHeader;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const decodeJson = (b64: string, what: string): unknown => {
  if (!/^[A-Za-z0-9_-]*$/.test(b64)) throw problem("malformed", `${what} is not base64url`);
  try {
    return JSON.parse(Buffer.from(b64, "base64url").toString("utf8"));
  } catch {
    throw problem("malformed", `${what} is not base64url-encoded JSON`);
  }
};

/** Body text or object → flattened JWS with its decoded protected header; the header's shape is checked. */
export const parseJws = (body: unknown, opts: { requireNonce?: boolean } = {}): ParsedJws => {
  let obj: unknown = body;
  if (typeof body === "string" || Buffer.isBuffer(body)) {
    try {
      obj = JSON.parse(body.toString());
    } catch {
      throw problem("malformed", "The request body is not a JSON object (a flattened JWS is expected)");
    }
  }
  if (!isObject(obj)) throw problem("malformed", "The request body must be a flattened JWS JSON object");
  if ("signatures" in obj) throw problem("malformed", "Use the flattened JWS serialization (RFC 8555 6.2), not the general one");
  if ("header" in obj) throw problem("malformed", "A JWS for ACME must not have an unprotected header (RFC 8555 6.2)");
  const { protected: prot, payload, signature } = obj;
  if (typeof prot !== "string" || typeof payload !== "string" || typeof signature !== "string")
    throw problem("malformed", "The JWS needs string members protected, payload and signature");
  const header = decodeJson(prot, "The JWS protected header");
  if (!isObject(header)) throw problem("malformed", "The JWS protected header must be a JSON object");
  if (typeof header.alg !== "string" || !ALLOWED.has(header.alg))
    throw problem("badSignatureAlgorithm", `JWS algorithm ${JSON.stringify(header.alg)} is not accepted`, { algorithms: [...ACCOUNT_KEY_ALGORITHMS] });
  if (header.b64 !== undefined || header.crit !== undefined) throw problem("malformed", "The JWS header parameters b64 and crit are not supported");
  if (typeof header.url !== "string") throw problem("malformed", "The JWS protected header must contain url (RFC 8555 6.4)");
  if ((header.jwk === undefined) === (header.kid === undefined)) throw problem("malformed", "The JWS protected header must contain exactly one of jwk and kid");
  if (header.jwk !== undefined && !isObject(header.jwk)) throw problem("malformed", "The JWS header jwk must be a JSON Web Key object");
  if (header.kid !== undefined && typeof header.kid !== "string") throw problem("malformed", "The JWS header kid must be a string");
  if (opts.requireNonce !== false && typeof header.nonce !== "string") throw problem("badNonce", "The JWS protected header must contain a nonce");
  return { jws: { protected: prot, payload, signature }, header: header as ProtectedHeader };
};

/** The public members of a JWK, in a stable shape; a private key (`d`) in a request is refused. */
export const publicJwk = (jwk: JWK): JWK => {
  if ("d" in jwk) throw problem("badPublicKey", "The JWK contains a private key: send only the public part");
  if (jwk.kty === "RSA" && typeof jwk.n === "string" && typeof jwk.e === "string") return { kty: "RSA", n: jwk.n, e: jwk.e };
  if (jwk.kty === "EC" && typeof jwk.crv === "string" && typeof jwk.x === "string" && typeof jwk.y === "string") return { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y };
  if (jwk.kty === "OKP" && typeof jwk.crv === "string" && typeof jwk.x === "string") return { kty: "OKP", crv: jwk.crv, x: jwk.x };
  throw problem("badPublicKey", `Unsupported JWK (kty ${JSON.stringify(jwk.kty)})`);
};

export const thumbprintOf = (jwk: JWK): Promise<string> => calculateJwkThumbprint(publicJwk(jwk), "sha256");

/** Checks the signature with `jwk` and returns the raw payload; an unusable key is badPublicKey, a bad signature malformed. */
export const verifyJws = async (p: ParsedJws, jwk: JWK): Promise<Uint8Array> => {
  // A request signed for another key type (an old key after a key change, say) is a bad signature, not a bad key.
  const kty = p.header.alg.startsWith("ES") ? "EC" : p.header.alg === "EdDSA" ? "OKP" : "RSA";
  if (jwk.kty !== kty) throw problem("malformed", `JWS signature verification failed: ${p.header.alg} does not fit a ${jwk.kty} key`);
  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(publicJwk(jwk), p.header.alg);
  } catch (e) {
    if (e instanceof Error && e.name === "AcmeProblem") throw e;
    throw problem("badPublicKey", `The account key cannot be used with ${p.header.alg}: ${(e as Error).message}`);
  }
  try {
    return (await flattenedVerify(p.jws, key, { algorithms: [p.header.alg] })).payload;
  } catch (e) {
    const msg = (e as Error).message;
    // jose refuses RSA keys below 2048 bits with a TypeError naming the size.
    if (/2048|modulusLength/i.test(msg)) throw problem("badPublicKey", `The account key is refused: ${msg}`);
    throw problem("malformed", "JWS signature verification failed");
  }
};

/** "" is POST-as-GET (RFC 8555 6.3): undefined. Anything else must be JSON. */
export const payloadJson = (payload: Uint8Array): unknown => {
  if (payload.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(payload).toString("utf8"));
  } catch {
    throw problem("malformed", "The JWS payload is not JSON");
  }
};

/** RFC 8555 8.1: token "." base64url(thumbprint). */
export const keyAuthorization = (token: string, thumbprint: string): string => `${token}.${thumbprint}`;

/** RFC 8555 8.4: the TXT record holds base64url(SHA-256(key authorization)). */
export const dns01Value = (keyAuth: string): string => base64url.encode(createHash("sha256").update(keyAuth).digest());

/** SubjectPublicKeyInfo DER of a JWK, to compare an account or request key with a certificate's key. */
export const spkiOfJwk = (jwk: JWK): Buffer => {
  try {
    return createPublicKey({ key: publicJwk(jwk) as any, format: "jwk" }).export({ type: "spki", format: "der" });
  } catch (e) {
    if (e instanceof Error && e.name === "AcmeProblem") throw e;
    throw problem("badPublicKey", "The JWK is not a usable public key");
  }
};
