import "reflect-metadata";
import { createPrivateKey, createPublicKey, randomUUID, webcrypto } from "node:crypto";
import type { KeyObject } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { SignJWT } from "jose";
import { normalizeAudience, SERVICE_JWT_MAX_LIFETIME_S, type ServiceNames } from "./service-key-names.js";

/**
 * The client half of service identity (what `kms svccert` does): load the service's private key, mint the
 * short service JWT the server checks in service-key-service.ts, and build the CSR with the service names.
 */

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type WebAlgorithm = { name: string; hash?: string; namedCurve?: string };
export interface ServiceKey { key: KeyObject; jwtAlg: string; webAlg: WebAlgorithm; signAlg: WebAlgorithm }

const EC: Record<string, { curve: string; hash: string; alg: string }> = {
  prime256v1: { curve: "P-256", hash: "SHA-256", alg: "ES256" },
  secp384r1: { curve: "P-384", hash: "SHA-384", alg: "ES384" },
  secp521r1: { curve: "P-521", hash: "SHA-512", alg: "ES512" },
};

/** A PEM private key (PKCS#8, PKCS#1 or SEC1); RSA or EC P-256/384/521, the keys our CAs sign for. */
export const loadServiceKey = (pem: string): ServiceKey => {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`not a PEM private key (${(e as Error).message})`);
  }
  if (key.asymmetricKeyType === "rsa")
    return { key, jwtAlg: "RS256", webAlg: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, signAlg: { name: "RSASSA-PKCS1-v1_5" } };
  const ec = key.asymmetricKeyType === "ec" ? EC[key.asymmetricKeyDetails?.namedCurve ?? ""] : undefined;
  if (ec) return { key, jwtAlg: ec.alg, webAlg: { name: "ECDSA", namedCurve: ec.curve }, signAlg: { name: "ECDSA", hash: ec.hash } };
  throw new Error(`unsupported key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ""}: use RSA or EC P-256/P-384/P-521`);
};

export const publicKeyPem = (k: ServiceKey): string => createPublicKey(k.key).export({ type: "spki", format: "pem" }) as string;

/**
 * The proof the server accepts at /api/v1/auth/service-key/{login,certificate}: `sub` names the identity (id, or
 * name with the `project` claim), `kid` the key version, `aud` the server, a fresh `jti`, a short life.
 */
export const mintServiceJwt = async (k: ServiceKey, o: { identity: string; project?: string; keyVersion: string; audience: string; nowMs: number; lifetimeSeconds?: number }) => {
  const now = Math.floor(o.nowMs / 1000);
  const life = Math.min(o.lifetimeSeconds ?? 300, SERVICE_JWT_MAX_LIFETIME_S);
  return new SignJWT(o.project ? { project: o.project } : {})
    .setProtectedHeader({ alg: k.jwtAlg, kid: o.keyVersion, typ: "JWT" })
    .setSubject(o.identity).setIssuer(o.identity).setAudience(normalizeAudience(o.audience))
    .setIssuedAt(now).setExpirationTime(now + life).setJti(randomUUID())
    .sign(k.key);
};

/** A PKCS#10 request for the service names, signed with the service key (proof of possession). */
export const buildServiceCsr = async (k: ServiceKey, names: ServiceNames): Promise<string> => {
  const subtle = webcrypto.subtle;
  const pkcs8 = k.key.export({ type: "pkcs8", format: "der" });
  const spki = createPublicKey(k.key).export({ type: "spki", format: "der" });
  const privateKey = await subtle.importKey("pkcs8", pkcs8, k.webAlg, false, ["sign"]);
  const publicKey = await subtle.importKey("spki", spki, k.webAlg, true, ["verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${names.commonName}`,
    keys: { privateKey, publicKey } as unknown as x509.Pkcs10CertificateRequestCreateParams["keys"],
    signingAlgorithm: k.signAlg as x509.Pkcs10CertificateRequestCreateParams["signingAlgorithm"],
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: names.dnsName }, { type: "url", value: names.spiffeUri }])],
  });
  return csr.toString("pem");
};
