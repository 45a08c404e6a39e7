import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, importX509, jwtVerify } from "jose";
import type { CryptoKey, JWTPayload, JWTVerifyGetKey, KeyObject } from "jose";
import { request } from "undici";
import type { Clock } from "../clock.js";
import { LoginRefused } from "./workload-auth.js";

/**
 * JWT checks shared by the GCP, Azure and service-key methods: remote key sets (JWKS, or Google's map of
 * X.509 certificates) cached per URL, and jose's failures turned into reasons a caller can act on.
 */

const TIMEOUT_MS = 10_000;
/** Clock skew allowed on exp, nbf and iat: a token verifies until exp + this. Single-use checks must remember it as long. */
export const CLOCK_TOLERANCE_S = 30;
// Asymmetric algorithms only: an HS256 token "signed" with a public key must never verify.
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

const jwksSets = new Map<string, JWTVerifyGetKey>();

/** Why fetching a key set failed, from jose's errors (which leave out the HTTP status) and the status we saw. */
const fetchFailure = (e: unknown, status: number | undefined): string | undefined => {
  if (e instanceof errors.JWKSTimeout) return `no answer within ${TIMEOUT_MS / 1000} s`;
  if (e instanceof errors.JWKSInvalid) return "the answer is not a JSON Web Key Set";
  if (e instanceof errors.JOSEError) {
    if (e.code !== "ERR_JOSE_GENERIC") return undefined; // a key-set answer judged, not a failed fetch
    return /parse/i.test(e.message) ? "the answer is not JSON" : `it answered HTTP ${status ?? "other than 200"}`;
  }
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
};

/**
 * A JWKS endpoint (Google OAuth certs, Entra discovery keys); jose refetches on an unknown kid. A failed fetch is
 * refused naming the URL and why: a mistyped jwksUrl must not read as "the token could not be verified".
 */
export const remoteJwks = (url: string): JWTVerifyGetKey => {
  let getKey = jwksSets.get(url);
  if (!getKey) {
    let status: number | undefined;
    const set = createRemoteJWKSet(new URL(url), {
      timeoutDuration: TIMEOUT_MS, cooldownDuration: 10_000, cacheMaxAge: 600_000,
      [customFetch]: async (input: string | URL | Request, init?: RequestInit) => {
        const res = await fetch(input, init);
        status = res.status;
        return res;
      },
    });
    getKey = async (header, token) => {
      try {
        return await set(header, token);
      } catch (e) {
        const why = fetchFailure(e, status);
        if (why === undefined) throw e;
        throw new LoginRefused(`could not fetch the signing keys from ${url}: ${why}`);
      }
    };
    jwksSets.set(url, getKey);
  }
  return getKey;
};

const x509Maps = new Map<string, { at: number; keys: Record<string, string> }>();
/** Key maps kept at most: one per service account that logs in; the least recently fetched goes first. */
export const X509_MAPS_MAX = 1_000;

/**
 * Google's `service_accounts/v1/metadata/x509/<email>` answers `{ "<key id>": "<PEM certificate>" }`. Cached for
 * five minutes; an unknown key id triggers one refetch (a key may have just been created).
 */
export const x509KeyMap = (url: string, clock: Clock): JWTVerifyGetKey => async (header) => {
  const fetchMap = async () => {
    let res;
    try {
      res = await request(url, { method: "GET", headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    } catch (e) {
      throw new LoginRefused(`could not fetch the service account's public keys from ${url}: ${(e as Error).message}`);
    }
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new LoginRefused(`the service account's public keys at ${url} answered ${res.statusCode} (unknown service account?)`);
    let keys: Record<string, string>;
    try {
      keys = JSON.parse(text) as Record<string, string>;
    } catch {
      throw new LoginRefused(`the service account's public keys at ${url} are not JSON`);
    }
    const entry = { at: clock.now(), keys };
    x509Maps.delete(url);
    x509Maps.set(url, entry);
    while (x509Maps.size > X509_MAPS_MAX) x509Maps.delete(x509Maps.keys().next().value!);
    return entry;
  };
  let entry = x509Maps.get(url);
  if (!entry || clock.now() - entry.at > 300_000) entry = await fetchMap();
  const kid = header.kid ?? "";
  if (!entry.keys[kid] && clock.now() - entry.at > 1_000) entry = await fetchMap();
  const pem = entry.keys[kid];
  if (!pem) throw new LoginRefused(`no public key of the service account has key id "${kid}"`);
  return importX509(pem, header.alg ?? "RS256");
};

export interface JwtChecks {
  audience?: string | string[];
  issuer?: string | string[];
  clock: Clock;
  /** Refuse tokens whose exp - iat (or exp - now) exceeds this many seconds. */
  maxLifetimeSeconds?: number;
  /** Require these claims to be present. */
  required?: string[];
}

/** Reads claims without verifying: only to find which identity or key a token claims, never to trust it. */
export const peekJwt = (token: string): { header: ReturnType<typeof decodeProtectedHeader>; payload: JWTPayload } => {
  try {
    return { header: decodeProtectedHeader(token), payload: decodeJwt(token) };
  } catch {
    throw new LoginRefused("the token is not a JWT");
  }
};

/** Verifies signature, expiry, audience and issuer; every failure is a LoginRefused with a plain reason. */
export const verifyJwt = async (token: string, key: JWTVerifyGetKey | CryptoKey | KeyObject, o: JwtChecks): Promise<JWTPayload> => {
  const now = o.clock.now();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
      audience: o.audience, issuer: o.issuer, currentDate: new Date(now), clockTolerance: CLOCK_TOLERANCE_S, algorithms: ALGORITHMS,
      requiredClaims: ["exp", ...(o.required ?? [])],
    }));
  } catch (e) {
    throw new LoginRefused(reasonOf(e, o, token));
  }
  // jose only judges iat when maxTokenAge is set; a token "issued" in the future would stretch its window.
  if (typeof payload.iat === "number" && payload.iat > now / 1000 + CLOCK_TOLERANCE_S) throw new LoginRefused("the token is not valid yet (iat is in the future)");
  if (o.maxLifetimeSeconds !== undefined) {
    const from = typeof payload.iat === "number" ? Math.min(payload.iat, now / 1000) : now / 1000;
    if (payload.exp! - from > o.maxLifetimeSeconds + CLOCK_TOLERANCE_S)
      throw new LoginRefused(`the token lives longer than the allowed ${o.maxLifetimeSeconds} seconds (exp - iat)`);
  }
  return payload;
};

const list = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(", ") : String(v));

const reasonOf = (e: unknown, o: JwtChecks, token: string): string => {
  if (e instanceof LoginRefused) return e.message;
  if (e instanceof errors.JWTExpired) return "the token has expired";
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "aud") return `wrong audience: the token is not meant for ${list(o.audience)}`;
    if (e.claim === "iss") return `wrong issuer: expected ${list(o.issuer)}`;
    if (e.claim === "nbf" || e.claim === "iat") return `the token is not valid yet (${e.claim})`;
    return `claim "${e.claim}" is invalid: ${e.reason === "missing" ? "missing" : e.message}`;
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return "bad signature: the token was not signed by a trusted key";
  if (e instanceof errors.JWKSNoMatchingKey) return "bad signature: no published key matches the token's key id";
  if (e instanceof errors.JOSEAlgNotAllowed) return "the token's signature algorithm is not allowed";
  // jose says only "unsupported alg": the usual cause is a token signed with another kind of key than the one
  // registered or published under its kid (EdDSA against an EC key, ES256 against RSA).
  if (e instanceof errors.JOSENotSupported) {
    let alg = "";
    try { alg = String(decodeProtectedHeader(token).alg ?? ""); } catch { /* the header was readable for jose */ }
    return `the token's algorithm ${JSON.stringify(alg)} does not fit the key it is checked with (another key type or curve)`;
  }
  if (e instanceof errors.JWKSTimeout) return "timed out fetching the signing keys";
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return "the token is not a valid JWT";
  if (e instanceof errors.JOSEError) return `the token could not be verified (${e.code})`;
  return `the token could not be verified: ${(e as Error).message}`;
};
