import "reflect-metadata";
import { createPublicKey, webcrypto } from "node:crypto";
import type { KeyObject } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { KeyAlgorithm, SignatureAlgorithm } from "../../client/types.js";

/**
 * `key-source: local`: the agent makes the key pair itself and sends only a CSR, so the private key
 * never crosses the network. Keys come from WebCrypto (async, on the thread pool: RSA generation takes
 * ~170 ms here, DESIGN.md) and the CSR from @peculiar/x509, where speed does not matter.
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type Hash = "SHA-256" | "SHA-384" | "SHA-512";

const HASH_OF_SIGNATURE: Record<SignatureAlgorithm, Hash> = {
  "RSA-SHA256": "SHA-256", "RSA-SHA384": "SHA-384", "RSA-SHA512": "SHA-512",
  "ECDSA-SHA256": "SHA-256", "ECDSA-SHA384": "SHA-384", "ECDSA-SHA512": "SHA-512",
};

const keyParams = (alg: KeyAlgorithm, hash: Hash | undefined) => {
  switch (alg) {
    case "RSA_2048":
    case "RSA_3072":
    case "RSA_4096":
      return {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: Number(alg.slice(4)),
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: hash ?? "SHA-256",
      };
    case "EC_prime256v1":
      return { name: "ECDSA", namedCurve: "P-256", hash: hash ?? "SHA-256" };
    case "EC_secp384r1":
      return { name: "ECDSA", namedCurve: "P-384", hash: hash ?? "SHA-384" };
    case "EC_secp521r1":
      return { name: "ECDSA", namedCurve: "P-521", hash: hash ?? "SHA-512" };
  }
};

export const isRsa = (alg: KeyAlgorithm): boolean => alg.startsWith("RSA_");
export const signatureMatchesKey = (sig: SignatureAlgorithm, alg: KeyAlgorithm): boolean => sig.startsWith("RSA-") === isRsa(alg);

export interface LocalKeyAndCsr {
  privateKeyPem: string;
  publicKey: KeyObject;
  csrPem: string;
}

export interface CsrSubject {
  commonName?: string;
  altNames?: string[];
}

const toPem = (label: string, der: ArrayBuffer): string => {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
};

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const sanOf = (value: string): x509.JsonGeneralName => {
  if (IPV4.test(value) || value.includes(":")) return { type: "ip", value };
  if (value.includes("@")) return { type: "email", value };
  return { type: "dns", value };
};

export const generateKeyAndCsr = async (alg: KeyAlgorithm, sig: SignatureAlgorithm | undefined, subject: CsrSubject): Promise<LocalKeyAndCsr> => {
  const params = keyParams(alg, sig ? HASH_OF_SIGNATURE[sig] : undefined);
  const keys = (await webcrypto.subtle.generateKey(params, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const extensions: x509.Extension[] = [];
  const sans = [...new Set(subject.altNames ?? [])];
  if (sans.length) extensions.push(new x509.SubjectAlternativeNameExtension(sans.map(sanOf)));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject.commonName ? [{ CN: [subject.commonName] }] : [],
    keys,
    signingAlgorithm: params,
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as unknown as webcrypto.CryptoKey);
  const spki = await webcrypto.subtle.exportKey("spki", keys.publicKey as unknown as webcrypto.CryptoKey);
  return {
    privateKeyPem: toPem("PRIVATE KEY", pkcs8),
    publicKey: createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }),
    csrPem: csr.toString("pem") + "\n",
  };
};

/** The public key inside a PEM CSR (for csr-path: the issued certificate must carry it). */
export const csrPublicKey = (csrPem: string): KeyObject => {
  const req = new x509.Pkcs10CertificateRequest(csrPem);
  return createPublicKey({ key: Buffer.from(req.publicKey.rawData), format: "der", type: "spki" });
};
