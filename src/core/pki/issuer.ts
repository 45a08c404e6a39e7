/**
 * IssuerContext: everything about a CA that every issuance needs, computed once when the CA is loaded
 * (issuer Name DER, key identifier, pre-encoded AKI / CRL distribution point / AIA extensions, the parsed
 * private key) so the per-certificate work is the subject, SANs, SKI and a signature. Build one per CA
 * certificate and keep it for as long as the CA, its key and its URLs do not change.
 */
import { createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { loadPrivateKey } from "../../crypto/keys.js";
import type { KeyAlgorithm } from "../../crypto/keys.js";
import { toPem } from "../../crypto/der/pem.js";
import { BadRequestError } from "../errors.js";
import { defaultSignatureAlgorithm } from "./algorithms.js";
import type { SignatureAlgorithm } from "./algorithms.js";
import { parseCertificate } from "./certificate.js";
import type { ParsedCertificate } from "./certificate.js";
import { authorityInfoAccessExtension, authorityKeyIdentifierExtension, crlDistributionPointsExtension } from "./extensions.js";
import { spkiInfo } from "./spki.js";

export interface IssuerUrls {
  /** CRL distribution point(s), e.g. `<SITE_URL>/api/v1/pki/crl/<crlId>/der` (api.md 7.3). */
  readonly crlDistributionPoints?: readonly string[];
  /** AIA caIssuers, e.g. `<SITE_URL>/api/v1/pki/ca/<caId>/certificates/<caCertId>/der`. */
  readonly caIssuers?: readonly string[];
  /** AIA OCSP responder URL(s), if the server exposes one. */
  readonly ocsp?: readonly string[];
}

export interface IssuerContext {
  readonly certificate: ParsedCertificate;
  readonly certificatePem: string;
  readonly privateKey: KeyObject;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly defaultSignatureAlgorithm: SignatureAlgorithm;
  /** The CA's subject Name DER, byte-for-byte: the issuer Name of everything it signs. */
  readonly subjectDer: Buffer;
  readonly keyId: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** BasicConstraints pathLenConstraint; undefined = unlimited. */
  readonly pathLength?: number;
  readonly urls: IssuerUrls;
  /** Pre-encoded AKI, CRL DP and AIA extensions, appended to every certificate this CA issues. */
  readonly issuedExtensions: readonly Buffer[];
}

export interface PrepareIssuerOptions {
  /** The CA certificate, PEM or DER. */
  readonly certificate: string | Uint8Array;
  /** Its private key: KeyObject or PEM (PKCS#8, PKCS#1, SEC1). */
  readonly privateKey: KeyObject | string | Buffer;
  readonly urls?: IssuerUrls;
}

/**
 * Checks that the certificate is a CA (BasicConstraints cA, keyCertSign when KeyUsage is present), that the
 * key is one of api.md's algorithms and that the private key belongs to the certificate; BadRequestError otherwise.
 */
export const prepareIssuer = (opts: PrepareIssuerOptions): IssuerContext => {
  const cert = parseCertificate(opts.certificate);
  const privateKey = loadPrivateKey(opts.privateKey);
  if (privateKey.type !== "private") throw new BadRequestError("issuer: privateKey is not a private key");
  if (!cert.basicConstraints?.isCA) throw new BadRequestError("issuer: the certificate is not a CA (BasicConstraints cA is not true)");
  if (cert.keyUsages && !cert.keyUsages.includes("key_cert_sign")) throw new BadRequestError("issuer: the CA certificate's KeyUsage lacks keyCertSign");
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  if (!spki.equals(cert.spkiDer)) throw new BadRequestError("issuer: the private key does not match the CA certificate");
  const info = spkiInfo(cert.spkiDer);
  if (!info.keyAlgorithm) throw new BadRequestError(`issuer: unsupported CA key ${info.description}`);
  const urls = opts.urls ?? {};
  const issuedExtensions = [authorityKeyIdentifierExtension(cert.subjectKeyId)];
  if (urls.crlDistributionPoints?.length) issuedExtensions.push(crlDistributionPointsExtension(urls.crlDistributionPoints));
  if (urls.caIssuers?.length || urls.ocsp?.length) issuedExtensions.push(authorityInfoAccessExtension(urls));
  return {
    certificate: cert,
    certificatePem: toPem("CERTIFICATE", cert.der),
    privateKey,
    keyAlgorithm: info.keyAlgorithm,
    defaultSignatureAlgorithm: defaultSignatureAlgorithm(info.keyAlgorithm),
    subjectDer: cert.subjectDer,
    keyId: cert.subjectKeyId,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    ...(cert.basicConstraints.pathLength !== undefined && { pathLength: cert.basicConstraints.pathLength }),
    urls,
    issuedExtensions,
  };
};
