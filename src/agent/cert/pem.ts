import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { fromPemAll } from "../../crypto/der/pem.js";
import { bytesOf, children, expectTag, readOctetString, readOid, readRoot } from "../../crypto/der/reader.js";
import { TAG, bitString, sequence } from "../../crypto/der/writer.js";

const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";

/**
 * Certificate material checks, with node:crypto and a few reads of DER: split PEM bundles, recognise
 * self-signed roots, and prove that a key or a CSR belongs to a certificate.
 */

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export const splitCertificates = (pem: string | null | undefined): string[] => (pem ?? "").match(PEM_CERT)?.map((p) => `${p.trim()}\n`) ?? [];

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
  return { serialNumber: x.serialNumber, notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo), commonName: cn, x509: x };
};

/**
 * The SubjectPublicKeyInfo a PKCS#8 key carries within itself: an EC key's optional publicKey field (OpenSSL
 * and this server write it), an RSA key's modulus and exponent. Undefined for anything else (other labels,
 * an EC key without its public key, something our reader does not follow).
 */
const embeddedSpki = (keyPem: string): Buffer | undefined => {
  const block = fromPemAll(keyPem).find((b) => b.label === "PRIVATE KEY");
  if (!block) return undefined;
  const der = block.der;
  const [, algT, keyT] = children(der, expectTag(readRoot(der, "PrivateKeyInfo"), TAG.SEQUENCE, "PrivateKeyInfo"), "PrivateKeyInfo");
  const alg = bytesOf(der, expectTag(algT, TAG.SEQUENCE, "algorithm"));
  const oid = readOid(der, children(der, algT!, "algorithm")[0], "algorithm");
  const inner = readOctetString(der, keyT, "privateKey");
  const fields = children(inner, expectTag(readRoot(inner, "privateKey"), TAG.SEQUENCE, "privateKey"), "privateKey");
  if (oid === EC_PUBLIC_KEY) {
    // ECPrivateKey: version, privateKey, [0] parameters OPTIONAL, [1] publicKey OPTIONAL
    const pub = fields.find((f) => f.tag === 0xa1);
    return pub && sequence([alg, bytesOf(inner, expectTag(children(inner, pub, "publicKey")[0], TAG.BIT_STRING, "publicKey"))]);
  }
  if (oid === RSA_ENCRYPTION) {
    // RSAPrivateKey: version, modulus, publicExponent, …
    const [, n, e] = fields;
    return sequence([alg, bitString(sequence([bytesOf(inner, expectTag(n, TAG.INTEGER, "modulus")), bytesOf(inner, expectTag(e, TAG.INTEGER, "exponent"))]))]);
  }
  return undefined;
};

/** The certificate's SubjectPublicKeyInfo, read from its DER (cheaper than OpenSSL's export of its key). */
const certificateSpki = (x: X509Certificate): Buffer => {
  const der = x.raw;
  const [tbsT] = children(der, readRoot(der, "Certificate"), "Certificate");
  const tbs = children(der, expectTag(tbsT, TAG.SEQUENCE, "tbsCertificate"), "tbsCertificate");
  // version [0] is optional; then serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  return bytesOf(der, expectTag(tbs[tbs[0]?.tag === 0xa0 ? 6 : 5], TAG.SEQUENCE, "subjectPublicKeyInfo"));
};

/**
 * Whether the private key belongs to the certificate. When the key carries its public key (embeddedSpki) and
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
    return embeddedSpki(keyPem)?.equals(certificateSpki(x)) ?? false;
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
