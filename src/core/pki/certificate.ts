/**
 * A minimal X.509 certificate reader: enough to prepare an issuer (its subject DER, validity, key, SKI and
 * constraints) and to inspect what we issued in tests. Not a validator: we only read certificates we made
 * or an administrator imported.
 */
import { createPublicKey, hash } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { TAG } from "../../crypto/der/writer.js";
import { DerError, bytesOf, children, expectTag, readOid, readRoot, readSerialHex, readSmallInteger, readTime } from "../../crypto/der/reader.js";
import { fromPem } from "../../crypto/der/pem.js";
import { BadRequestError } from "../errors.js";
import {
  OID, decodeAuthorityKeyIdentifier, decodeBasicConstraints, decodeExtKeyUsage, decodeExtensions, decodeKeyUsage, decodeSubjectAltName,
  decodeSubjectKeyIdentifier,
} from "./extensions.js";
import { spkiInfo } from "./spki.js";
import type { DecodedExtension } from "./extensions.js";
import { decodeName } from "./name.js";
import type { DecodedName } from "./name.js";
import type { ExtendedKeyUsage, KeyUsage } from "./algorithms.js";
import type { SubjectAltName } from "./san.js";

export interface ParsedCertificate {
  readonly der: Buffer;
  readonly tbsDer: Buffer;
  readonly version: number;
  readonly serialHex: string;
  readonly signatureAlgorithmOid: string;
  /** Exact DER of the issuer and subject Names, byte-for-byte as signed. */
  readonly issuerDer: Buffer;
  readonly subjectDer: Buffer;
  readonly issuer: DecodedName;
  readonly subject: DecodedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spkiDer: Buffer;
  readonly publicKey: KeyObject;
  readonly extensions: ReadonlyMap<string, DecodedExtension>;
  readonly basicConstraints?: { isCA: boolean; pathLength?: number };
  readonly keyUsages?: KeyUsage[];
  readonly extendedKeyUsages?: { known: ExtendedKeyUsage[]; unknown: string[] };
  readonly sans?: { sans: SubjectAltName[]; unsupported: string[] };
  /** The SKI extension, or the RFC 5280 method-1 identifier of the key when the extension is absent. */
  readonly subjectKeyId: Buffer;
  readonly authorityKeyId?: Buffer;
  readonly fingerprintSha256: string;
}

/** PEM (`CERTIFICATE`) or DER → DER; BadRequestError when neither. */
export const certificateDer = (cert: string | Uint8Array): Buffer => {
  if (typeof cert !== "string") return Buffer.from(cert);
  try {
    return fromPem(cert, ["CERTIFICATE"]).der;
  } catch (e) {
    throw new BadRequestError(`certificate: ${(e as Error).message}`);
  }
};

export const parseCertificate = (input: string | Uint8Array): ParsedCertificate => {
  const der = certificateDer(input);
  try {
    return parseDer(der);
  } catch (e) {
    if (e instanceof DerError) throw new BadRequestError(`certificate: malformed DER (${e.message})`);
    throw e;
  }
};

/**
 * Only the serial number (lowercase hex, as the inventory stores it), without the rest of parseCertificate's
 * work (which imports the public key). Throws DerError for malformed DER.
 */
export const certificateSerialHex = (der: Uint8Array): string => {
  const root = expectTag(readRoot(der, "certificate"), TAG.SEQUENCE, "certificate");
  const f = children(der, expectTag(children(der, root, "certificate")[0], TAG.SEQUENCE, "tbsCertificate"), "tbsCertificate");
  return readSerialHex(der, f[f[0]?.tag === 0xa0 ? 1 : 0], "serialNumber");
};

const parseDer = (der: Buffer): ParsedCertificate => {
  const root = expectTag(readRoot(der, "certificate"), TAG.SEQUENCE, "certificate");
  const [tbs, sigAlg] = children(der, root, "certificate");
  const f = children(der, expectTag(tbs, TAG.SEQUENCE, "tbsCertificate"), "tbsCertificate");
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) version = readSmallInteger(der, children(der, f[i++], "version")[0], "version") + 1;
  const serialHex = readSerialHex(der, f[i++], "serialNumber");
  i++; // signature AlgorithmIdentifier inside TBS: the outer one is authoritative for us
  const issuerT = f[i++];
  const validity = children(der, expectTag(f[i++], TAG.SEQUENCE, "validity"), "validity");
  const subjectT = f[i++];
  const spkiT = expectTag(f[i++], TAG.SEQUENCE, "subjectPublicKeyInfo");
  let extensions = new Map<string, DecodedExtension>();
  for (; i < f.length; i++) if (f[i].tag === 0xa3) extensions = decodeExtensions(der, children(der, f[i], "extensions")[0]);
  const spkiDer = Buffer.from(bytesOf(der, spkiT));
  const ext = (o: string): Buffer | undefined => extensions.get(o)?.value;
  const bc = ext(OID.basicConstraints);
  const ku = ext(OID.keyUsage);
  const eku = ext(OID.extKeyUsage);
  const san = ext(OID.subjectAltName);
  const ski = ext(OID.subjectKeyIdentifier);
  const aki = ext(OID.authorityKeyIdentifier);
  return {
    der,
    tbsDer: Buffer.from(bytesOf(der, tbs)),
    version,
    serialHex,
    signatureAlgorithmOid: readOid(der, children(der, expectTag(sigAlg, TAG.SEQUENCE, "signatureAlgorithm"), "signatureAlgorithm")[0], "signatureAlgorithm"),
    issuerDer: Buffer.from(bytesOf(der, issuerT)),
    subjectDer: Buffer.from(bytesOf(der, subjectT)),
    issuer: decodeName(der, issuerT, "issuer"),
    subject: decodeName(der, subjectT, "subject"),
    notBefore: readTime(der, validity[0], "notBefore"),
    notAfter: readTime(der, validity[1], "notAfter"),
    spkiDer,
    publicKey: createPublicKey({ key: spkiDer, format: "der", type: "spki" }),
    extensions,
    ...(bc && { basicConstraints: decodeBasicConstraints(bc) }),
    ...(ku && { keyUsages: decodeKeyUsage(ku) }),
    ...(eku && { extendedKeyUsages: decodeExtKeyUsage(eku) }),
    ...(san && { sans: decodeSubjectAltName(san) }),
    subjectKeyId: ski ? decodeSubjectKeyIdentifier(ski) : spkiInfo(spkiDer).keyId,
    ...(aki && { authorityKeyId: decodeAuthorityKeyIdentifier(aki) }),
    fingerprintSha256: hash("sha256", der, "hex"),
  };
};
