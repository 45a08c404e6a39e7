import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { createPrivateKey, type KeyObject } from "node:crypto";
import { opensslOk, scratch } from "./openssl.js";

/**
 * Signing keys as Google and Entra publish them, served locally: a JWKS per issuer (Google OAuth certs, a tenant's
 * discovery keys) and Google's per-service-account map of X.509 certificates. Tests mint tokens with `sign`.
 */

export interface Signer {
  kid: string;
  /** Signs claims with this key; `expiresIn` seconds from `now` (negative: already expired). */
  sign(claims: JWTPayload, o?: { expiresIn?: number; now?: number; kid?: string }): Promise<string>;
}

const makeSigner = (key: KeyObject | Parameters<SignJWT["sign"]>[0], kid: string): Signer => ({
  kid,
  sign: async (claims, o = {}) => {
    const now = Math.floor((o.now ?? Date.now()) / 1000);
    return new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: o.kid ?? kid, typ: "JWT" })
      .setIssuedAt(now).setExpirationTime(now + (o.expiresIn ?? 600)).sign(key);
  },
});

export interface JwksIssuer extends Signer { jwk: Record<string, unknown> }

export const newIssuer = async (kid: string): Promise<JwksIssuer> => {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { ...makeSigner(privateKey, kid), jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
};

/** A GCP service account: its key file (as `gcloud iam service-accounts keys create` writes it) and certificate. */
export interface ServiceAccount extends Signer { email: string; keyFile: string; certPem: string }

export const newServiceAccount = (email: string, keyId: string): ServiceAccount & { key: string } => {
  const s = scratch("kms-gcp-sa-");
  opensslOk("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${email}`, "-keyout", s.path("key.pem"), "-out", s.path("cert.pem"));
  const key = readFileSync(s.path("key.pem"), "utf8");
  const keyFile = s.write("sa.json", JSON.stringify({
    type: "service_account", project_id: email.split("@")[1]!.split(".")[0], private_key_id: keyId, private_key: key, client_email: email, client_id: "1234567890",
  }));
  return { ...makeSigner(createPrivateKey(key), keyId), email, keyFile, certPem: readFileSync(s.path("cert.pem"), "utf8"), key };
};

export interface KeyServer {
  url: string;
  googleJwksUrl: string;
  azureJwksUrl(tenant: string): string;
  serviceAccountKeysUrl: string;
  /** The paths asked for so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

const send = (res: ServerResponse, status: number, body: unknown) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(body)); };

export const startKeyServer = async (o: { google: JwksIssuer[]; azure: Record<string, JwksIssuer[]>; serviceAccounts: ServiceAccount[] }): Promise<KeyServer> => {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, "http://x");
    requests.push(decodeURIComponent(url.pathname));
    if (url.pathname === "/oauth2/v3/certs") return send(res, 200, { keys: o.google.map((i) => i.jwk) });
    const az = /^\/([^/]+)\/discovery\/v2\.0\/keys$/.exec(url.pathname);
    if (az) return o.azure[decodeURIComponent(az[1]!)] ? send(res, 200, { keys: o.azure[decodeURIComponent(az[1]!)]!.map((i) => i.jwk) }) : send(res, 400, { error: "invalid_tenant" });
    const sa = /^\/service_accounts\/v1\/metadata\/x509\/(.+)$/.exec(url.pathname);
    if (sa) {
      const email = decodeURIComponent(sa[1]!);
      const keys = o.serviceAccounts.filter((a) => a.email === email);
      return keys.length ? send(res, 200, Object.fromEntries(keys.map((k) => [k.kid, k.certPem]))) : send(res, 404, { error: { code: 404, message: "Not Found" } });
    }
    send(res, 404, { error: "not found" });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    googleJwksUrl: `${base}/oauth2/v3/certs`,
    azureJwksUrl: (tenant) => `${base}/${encodeURIComponent(tenant)}/discovery/v2.0/keys`,
    serviceAccountKeysUrl: `${base}/service_accounts/v1/metadata/x509/{email}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
};
