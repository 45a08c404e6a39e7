/**
 * A minimal ACME client (RFC 8555) for an upstream CA: account, order, authorizations, challenges, finalize and
 * download. Every request after the directory is a JWS signed with the account key (RFC 8555 6.2); reads are
 * POST-as-GET (6.3). The worker (worker.ts) sequences these calls and keeps its state in the database.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { FlattenedSign, calculateJwkThumbprint, type JWK } from "jose";
import { ecPublicJwk } from "../../../crypto/key-der.js";
import { httpExchange, type HttpAnswer } from "./http.js";

export interface AcmeDirectory { newNonce: string; newAccount: string; newOrder: string; revokeCert?: string; meta?: { externalAccountRequired?: boolean } }
export interface AcmeIdentifier { type: "dns" | "ip"; value: string }
export interface AcmeChallenge { type: string; url: string; token: string; status: string; error?: AcmeProblem }
export interface AcmeAuthorization { identifier: AcmeIdentifier; status: string; challenges: AcmeChallenge[]; wildcard?: boolean }
export interface AcmeOrder { status: string; identifiers: AcmeIdentifier[]; authorizations: string[]; finalize: string; certificate?: string; error?: AcmeProblem }
export interface AcmeProblem { type?: string; detail?: string; subproblems?: AcmeProblem[] }

/** A problem document from the upstream CA (RFC 8555 6.7), with its type so callers can tell badNonce apart. */
export class AcmeProblemError extends Error {
  constructor(readonly url: string, readonly status: number, readonly problem: AcmeProblem) {
    super(`${problem.type ?? "error"}: ${problem.detail ?? `HTTP ${status}`}`);
    this.name = "AcmeProblemError";
  }
}

/** The CA record does not fit what the ACME server wants (EAB missing, challenge type not offered): retrying cannot help. */
export class AcmeConfigError extends Error {
  constructor(message: string) { super(message); this.name = "AcmeConfigError"; }
}

export interface AcmeClientOptions {
  directoryUrl: string;
  accountKey: KeyObject;
  /** PEM bundle trusted for the ACME server's TLS certificate (a private CA); the system roots otherwise. */
  caBundle?: string;
  accountUrl?: string | null;
  timeoutMs?: number;
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString("base64url");
const header = (h: HttpAnswer, name: string) => { const v = h.headers[name]; return Array.isArray(v) ? v[0] : v; };

export const acmeClient = (o: AcmeClientOptions) => {
  let directory: AcmeDirectory | undefined;
  let nonce: string | undefined;
  let accountUrl = o.accountUrl ?? undefined;
  let jwk: JWK | undefined;
  const alg = o.accountKey.asymmetricKeyType === "ec" ? "ES256" : "RS256";

  const exchange = (url: string, method: string, body?: string, accept?: string) =>
    httpExchange(url, { method, body, ca: o.caBundle, timeoutMs: o.timeoutMs, headers: { ...(body !== undefined && { "content-type": "application/jose+json" }), ...(accept && { accept }) } });

  const problemOf = (url: string, res: HttpAnswer) => {
    let p: AcmeProblem = {};
    try { p = JSON.parse(res.body.toString("utf8")) as AcmeProblem; } catch { p = { detail: `HTTP ${res.status} ${res.body.toString("utf8").slice(0, 200)}` }; }
    return new AcmeProblemError(url, res.status, p);
  };

  const getDirectory = async () => {
    if (directory) return directory;
    const res = await exchange(o.directoryUrl, "GET");
    // A 404 or 401 for the directory is a wrong directoryUrl, not a passing fault: waiting until the deadline cannot help.
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
      throw new AcmeConfigError(`the ACME directory ${o.directoryUrl} answered HTTP ${res.status}: check directoryUrl`);
    if (res.status !== 200) throw new Error(`ACME directory ${o.directoryUrl} answered HTTP ${res.status}`);
    let d: Partial<AcmeDirectory> | undefined;
    try { d = JSON.parse(res.body.toString("utf8")) as Partial<AcmeDirectory>; } catch { /* reported below */ }
    if (!d || typeof d !== "object" || !d.newNonce || !d.newAccount || !d.newOrder)
      throw new AcmeConfigError(`${o.directoryUrl} is not an ACME directory (RFC 8555 7.1.1): check directoryUrl`);
    directory = d as AcmeDirectory;
    return directory;
  };

  // Not jose's exportJWK: it uses KeyObject.export({ format: "jwk" }), which hangs now and then on Node 20 (key-der.ts).
  const publicJwk = async () => (jwk ??= ecPublicJwk(createPublicKey(o.accountKey)) as JWK);
  /** The key authorization of a challenge token (RFC 8555 8.1): token "." base64url(JWK thumbprint). */
  const keyAuthorization = async (token: string) => `${token}.${await calculateJwkThumbprint(await publicJwk(), "sha256")}`;
  /** The TXT value of a dns-01 challenge (RFC 8555 8.4): base64url(SHA-256(key authorization)). */
  const dns01Value = async (token: string) => b64u(createHash("sha256").update(await keyAuthorization(token)).digest());

  const freshNonce = async () => {
    if (nonce) { const n = nonce; nonce = undefined; return n; }
    const d = await getDirectory();
    const res = await exchange(d.newNonce, "HEAD");
    const n = header(res, "replay-nonce");
    if (!n) throw new Error(`ACME newNonce ${d.newNonce} gave no Replay-Nonce (HTTP ${res.status})`);
    return n;
  };

  /** A signed request; `payload` undefined is POST-as-GET. Retries once on badNonce, as RFC 8555 6.5 invites. */
  const post = async (url: string, payload: unknown, opts: { useJwk?: boolean; accept?: string } = {}, retry = true): Promise<HttpAnswer> => {
    const protectedHeader: Record<string, unknown> = { alg, nonce: await freshNonce(), url };
    if (opts.useJwk || !accountUrl) protectedHeader.jwk = await publicJwk();
    else protectedHeader.kid = accountUrl;
    const body = payload === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    const jws = await new FlattenedSign(body).setProtectedHeader(protectedHeader as never).sign(o.accountKey);
    const res = await exchange(url, "POST", JSON.stringify(jws), opts.accept);
    const n = header(res, "replay-nonce");
    if (n) nonce = n;
    if (res.status >= 400) {
      const err = problemOf(url, res);
      if (retry && err.problem.type === "urn:ietf:params:acme:error:badNonce") return post(url, payload, opts, false);
      throw err;
    }
    return res;
  };
  const json = <T>(res: HttpAnswer) => JSON.parse(res.body.toString("utf8")) as T;

  /**
   * Registers (or finds again: the server answers 200 with the same Location for a known key, RFC 8555 7.3.1) the
   * account. External account binding (7.3.4) is an HS256 JWS over the account JWK, keyed by the CA's HMAC key.
   */
  const ensureAccount = async (a: { email: string; eab?: { kid: string; hmacKey: string } }) => {
    if (accountUrl) return accountUrl;
    const d = await getDirectory();
    const payload: Record<string, unknown> = { termsOfServiceAgreed: true, contact: [`mailto:${a.email}`] };
    if (a.eab) {
      payload.externalAccountBinding = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(await publicJwk())))
        .setProtectedHeader({ alg: "HS256", kid: a.eab.kid, url: d.newAccount }).sign(Buffer.from(a.eab.hmacKey, "base64url"));
    } else if (d.meta?.externalAccountRequired) {
      throw new AcmeConfigError(`the ACME server ${o.directoryUrl} requires external account binding (RFC 8555 7.3.4): set eabKid and eabHmacKey on the CA`);
    }
    const res = await post(d.newAccount, payload, { useJwk: true });
    const loc = header(res, "location");
    if (!loc) throw new Error(`ACME newAccount at ${d.newAccount} gave no account URL`);
    accountUrl = loc;
    return loc;
  };

  const newOrder = async (identifiers: AcmeIdentifier[]) => {
    const d = await getDirectory();
    const res = await post(d.newOrder, { identifiers });
    const loc = header(res, "location");
    if (!loc) throw new Error(`ACME newOrder at ${d.newOrder} gave no order URL`);
    return { url: loc, order: json<AcmeOrder>(res) };
  };
  const getOrder = async (url: string) => json<AcmeOrder>(await post(url, undefined));
  const getAuthorization = async (url: string) => json<AcmeAuthorization>(await post(url, undefined));
  /** Tells the server the challenge is ready to be validated (RFC 8555 7.5.1): an empty JSON object. */
  const respond = async (url: string) => json<AcmeChallenge>(await post(url, {}));
  const finalize = async (url: string, csrDer: Buffer) => json<AcmeOrder>(await post(url, { csr: b64u(csrDer) }));
  /** The issued chain, leaf first (RFC 8555 7.4.2, application/pem-certificate-chain). */
  const downloadCertificate = async (url: string) => (await post(url, undefined, { accept: "application/pem-certificate-chain" })).body.toString("utf8");

  /**
   * Revokes a certificate this account ordered (RFC 8555 7.6), with an RFC 5280 reason code. A certificate the
   * CA says is already revoked counts as revoked.
   */
  const revokeCertificate = async (certDer: Buffer, reason: number) => {
    const d = await getDirectory();
    if (!d.revokeCert) throw new AcmeConfigError(`the ACME server ${o.directoryUrl} offers no revokeCert`);
    try {
      await post(d.revokeCert, { certificate: b64u(certDer), reason });
    } catch (e) {
      if (e instanceof AcmeProblemError && e.problem.type === "urn:ietf:params:acme:error:alreadyRevoked") return;
      throw e;
    }
  };

  return { ensureAccount, newOrder, getOrder, getAuthorization, respond, finalize, downloadCertificate, revokeCertificate, keyAuthorization, dns01Value };
};
export type AcmeClient = ReturnType<typeof acmeClient>;
