import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { fromPemAll } from "../../crypto/der/pem.js";
import { certificateSpki, pkcs8EmbeddedSpki } from "../../crypto/key-der.js";

/**
 * Certificate material checks, with node:crypto and a few reads of DER: split PEM bundles, recognise
 * self-signed roots, and prove that a key or a CSR belongs to a certificate.
 */

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export const splitCertificates = (pem: string | null | undefined): string[] => (pem ?? "").match(PEM_CERT)?.map((p) => `${p.trim()}\n`) ?? [];

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * The certificates of a chain file, each parsed: a block of another kind, a certificate that does not parse,
 * or text outside the blocks (a torn or overwritten file) throws, so the set is repaired like an unparsable
 * certificate.
 */
export const parseChain = (pem: string): X509Certificate[] => {
  if (pem.replace(PEM_BLOCK, "").trim() !== "") throw new Error("the chain file holds something other than PEM certificates");
  return [...pem.matchAll(PEM_BLOCK)].map((m) => {
    if (m[1] !== "CERTIFICATE") throw new Error(`the chain file holds a ${m[1]} block`);
    return new X509Certificate(m[0]);
  });
};

export const isSelfSigned = (pem: string): boolean => {
  const x = new X509Certificate(pem);
  if (x.subject !== x.issuer) return false;
  try {
    return x.verify(x.publicKey);
  } catch {
    return false;
  }
};

export interface CertInfo {
  serialNumber: string;
  notBefore: number;
  notAfter: number;
  commonName: string | undefined;
  x509: X509Certificate;
}

export const certInfo = (pem: string): CertInfo => {
  const x = new X509Certificate(pem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x.subject)?.[1];
  // Lowercase hex, as the server reports serials: node:crypto writes uppercase.
  return { serialNumber: x.serialNumber.toLowerCase(), notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo), commonName: cn, x509: x };
};

/**
 * Whether the private key belongs to the certificate. When the key carries its public key (pkcs8EmbeddedSpki) and
 * that is byte for byte the certificate's, it does: the comparison OpenSSL's own check makes, without building
 * an OpenSSL key from the PEM (~0.4 ms each in OpenSSL 3, paid for every certificate an agent installs).
 * Every other case, a mismatch included, is OpenSSL's to decide.
 */
export const keyMatchesCertificate = (keyPem: string, cert: string | X509Certificate): boolean => {
  try {
    const x = typeof cert === "string" ? new X509Certificate(cert) : cert;
    return sameEmbeddedKey(keyPem, x) || x.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
};

const sameEmbeddedKey = (keyPem: string, x: X509Certificate): boolean => {
  try {
    const block = fromPemAll(keyPem).find((b) => b.label === "PRIVATE KEY");
    return (block && pkcs8EmbeddedSpki(block.der)?.equals(certificateSpki(x.raw))) ?? false;
  } catch {
    return false; // not ours to read: OpenSSL decides
  }
};

const spki = (k: KeyObject): Buffer => k.export({ type: "spki", format: "der" });

/** True when the certificate carries exactly this public key (a CSR's, or one we generated). */
export const certificateHasPublicKey = (certPem: string, publicKey: KeyObject): boolean => {
  try {
    return spki(new X509Certificate(certPem).publicKey).equals(spki(publicKey));
  } catch {
    return false;
  }
};

export const publicKeyOfPrivate = (keyPem: string): KeyObject => createPublicKey(createPrivateKey(keyPem));

/** Drops self-signed roots: what `omit-root` promises even when a server sends them anyway. */
export const withoutRoots = (chain: string[]): string[] => chain.filter((c) => !isSelfSigned(c));

/** RFC 3339 in UTC without fractions, e.g. 2026-01-01T00:00:00Z (for CERT_NOT_AFTER). */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
