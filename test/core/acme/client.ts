/**
 * A deliberately small ACME client for protocol tests: it signs exactly what a test asks for (a stale nonce,
 * a wrong URL, a foreign key), which real clients never do. certbot and lego cover the happy paths.
 */
import { FlattenedSign, exportJWK, generateKeyPair, importPKCS8 } from "jose";
import type { CryptoKey, JWK } from "jose";

export interface AcmeKey { alg: string; privateKey: CryptoKey; jwk: JWK }

export const newKey = async (alg: "ES256" | "RS256" | "ES384" = "ES256"): Promise<AcmeKey> => {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, jwk: await exportJWK(publicKey) };
};

/** The key of a certificate (PKCS#8 PEM from openssl), to revoke by certificate key. */
export const keyFromPem = async (pem: string, alg: string): Promise<AcmeKey> => {
  const privateKey = await importPKCS8(pem, alg, { extractable: true });
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...jwk } = await exportJWK(privateKey);
  return { alg, privateKey, jwk };
};

export interface AcmeReply { status: number; headers: Headers; body: any; text: string }

const enc = new TextEncoder();

export const sign = async (key: AcmeKey, protectedHeader: Record<string, unknown>, payload: unknown) => {
  const bytes = payload === "" ? new Uint8Array() : enc.encode(JSON.stringify(payload));
  return new FlattenedSign(bytes).setProtectedHeader({ alg: key.alg, ...protectedHeader }).sign(key.privateKey);
};

/** RFC 8555 7.3.4: the EAB JWS MACs the account's public key with the credential's HMAC key. */
export const eabBinding = async (kid: string, hmacKeyB64u: string, accountJwk: JWK, newAccountUrl: string) =>
  new FlattenedSign(enc.encode(JSON.stringify(accountJwk))).setProtectedHeader({ alg: "HS256", kid, url: newAccountUrl }).sign(Buffer.from(hmacKeyB64u, "base64url"));

export const acmeClient = async (directoryUrl: string) => {
  const dir = (await (await fetch(directoryUrl)).json()) as Record<string, any>;
  let nonce: string | undefined;
  const freshNonce = async () => {
    const r = await fetch(dir.newNonce, { method: "HEAD" });
    return r.headers.get("replay-nonce")!;
  };

  const send = async (url: string, jws: unknown, contentType = "application/jose+json"): Promise<AcmeReply> => {
    const r = await fetch(url, { method: "POST", headers: { "content-type": contentType }, body: JSON.stringify(jws) });
    nonce = r.headers.get("replay-nonce") ?? undefined;
    const text = await r.text();
    let body: any = text;
    try { body = JSON.parse(text); } catch { /* PEM or empty */ }
    return { status: r.status, headers: r.headers, body, text };
  };

  /** Signs and POSTs; `as` is the account URL (kid) or "jwk" to embed the key. One badNonce retry, like certbot. */
  const post = async (url: string, payload: unknown, key: AcmeKey, as: string | "jwk", o: { nonce?: string; url?: string; retry?: boolean } = {}): Promise<AcmeReply> => {
    const header = { nonce: o.nonce ?? nonce ?? (await freshNonce()), url: o.url ?? url, ...(as === "jwk" ? { jwk: key.jwk } : { kid: as }) };
    nonce = undefined;
    const r = await send(url, await sign(key, header, payload));
    if (r.status === 400 && r.body?.type === "urn:ietf:params:acme:error:badNonce" && o.retry !== false && !o.nonce) return post(url, payload, key, as, { ...o, retry: false });
    return r;
  };

  const newAccount = async (key: AcmeKey, eab?: { kid: string; hmacKey: string }, extra: Record<string, unknown> = {}) =>
    post(dir.newAccount, {
      termsOfServiceAgreed: true, contact: ["mailto:test@example.com"], ...extra,
      ...(eab && { externalAccountBinding: await eabBinding(eab.kid, eab.hmacKey, key.jwk, dir.newAccount) }),
    }, key, "jwk");

  /** Polls a resource (POST-as-GET) until its status leaves pending/processing. */
  const poll = async (url: string, key: AcmeKey, kid: string, timeoutMs = 15_000): Promise<AcmeReply> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await post(url, "", key, kid);
      if (!["pending", "processing"].includes(r.body?.status) || Date.now() > until) return r;
      await new Promise((res) => setTimeout(res, 200));
    }
  };

  return { dir, post, send, sign, newAccount, poll, freshNonce };
};
export type AcmeClient = Awaited<ReturnType<typeof acmeClient>>;
