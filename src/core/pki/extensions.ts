/**
 * X.509 v3 extensions: DER encoders for what we issue, and decoders for what CSRs request and CA certificates
 * carry. Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }; DER omits
 * a FALSE critical flag (X.690 11.5), so non-critical extensions have two members.
 */
import {
  TAG, TRUE, isIa5String, implicitConstructed, implicitPrimitive, integer, namedBitString, octetString, oid, sequence, enumerated, explicit,
} from "../../crypto/der/writer.js";
import {
  DerError, children, contentOf, expectTag, readBoolean, readNamedBits, readOctetString, readOid, readRoot, readSmallInteger,
} from "../../crypto/der/reader.js";
import type { Tlv } from "../../crypto/der/reader.js";
import { BadRequestError } from "../errors.js";
import { EKU_BY_OID, EKU_OID, KEY_USAGES, KEY_USAGE_BIT } from "./algorithms.js";
import type { ExtendedKeyUsage, KeyUsage } from "./algorithms.js";
import { bytesToIp, ipToBytes } from "./ip.js";
import { sanProblem } from "./san.js";
import type { SubjectAltName } from "./san.js";

export const OID = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
  crlDistributionPoints: "2.5.29.31",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  tlsFeature: "1.3.6.1.5.5.7.1.24",
  caIssuers: "1.3.6.1.5.5.7.48.2",
  ocsp: "1.3.6.1.5.5.7.48.1",
} as const;

export const extension = (extnId: string, critical: boolean, value: Uint8Array): Buffer =>
  critical ? sequence([oid(extnId), TRUE, octetString(value)]) : sequence([oid(extnId), octetString(value)]);

/** CA:false is the empty SEQUENCE (cA DEFAULT FALSE); pathLen only for CAs, and absent = unlimited. */
export const basicConstraintsExtension = (isCA: boolean, pathLength?: number): Buffer => {
  const parts: Buffer[] = [];
  if (isCA) {
    parts.push(TRUE);
    if (pathLength !== undefined && pathLength >= 0) parts.push(integer(pathLength));
  }
  return extension(OID.basicConstraints, true, sequence(parts));
};
/** The leaf's BasicConstraints, identical in every certificate: encoded once. */
export const LEAF_BASIC_CONSTRAINTS = basicConstraintsExtension(false);

export const keyUsageExtension = (usages: readonly KeyUsage[]): Buffer =>
  extension(OID.keyUsage, true, namedBitString(usages.map((u) => KEY_USAGE_BIT[u])));

export const extKeyUsageExtension = (usages: readonly ExtendedKeyUsage[]): Buffer =>
  extension(OID.extKeyUsage, false, sequence(usages.map((u) => oid(EKU_OID[u]))));

export const encodeGeneralName = (san: SubjectAltName): Buffer => {
  const problem = sanProblem(san);
  if (problem) throw new BadRequestError(`SAN ${san.type} ${JSON.stringify(san.value)}: ${problem}`);
  switch (san.type) {
    case "dns_name": return implicitPrimitive(2, Buffer.from(san.value, "latin1"));
    case "ip_address": return implicitPrimitive(7, ipToBytes(san.value)!);
    case "email": return implicitPrimitive(1, Buffer.from(san.value, "latin1"));
    case "uri": return implicitPrimitive(6, Buffer.from(san.value, "latin1"));
  }
};

/** RFC 5280 4.2.1.6: critical when the subject is empty, so relying parties cannot skip the only identity. */
export const subjectAltNameExtension = (sans: readonly SubjectAltName[], critical: boolean): Buffer =>
  extension(OID.subjectAltName, critical, sequence(sans.map(encodeGeneralName)));

export const subjectKeyIdentifierExtension = (keyId: Uint8Array): Buffer => extension(OID.subjectKeyIdentifier, false, octetString(keyId));

/** AuthorityKeyIdentifier with keyIdentifier [0] only (RFC 5280 4.2.1.1: MUST NOT be critical). */
export const authorityKeyIdentifierExtension = (keyId: Uint8Array): Buffer =>
  extension(OID.authorityKeyIdentifier, false, sequence([implicitPrimitive(0, keyId)]));

/**
 * One DistributionPoint with a fullName URI. DistributionPointName is a CHOICE, so its [0] tag is explicit
 * (constructed) even in the implicit-tagged module; fullName [0] is implicit GeneralNames.
 */
export const crlDistributionPointsExtension = (urls: readonly string[]): Buffer =>
  extension(
    OID.crlDistributionPoints,
    false,
    sequence([sequence([explicit(0, [implicitConstructed(0, urls.map((u) => implicitPrimitive(6, ia5Bytes(u))))])])]),
  );

export const authorityInfoAccessExtension = (access: { caIssuers?: readonly string[]; ocsp?: readonly string[] }): Buffer => {
  const uri = (u: string): Buffer => implicitPrimitive(6, ia5Bytes(u));
  const descs = [
    ...(access.ocsp ?? []).map((u) => sequence([oid(OID.ocsp), uri(u)])),
    ...(access.caIssuers ?? []).map((u) => sequence([oid(OID.caIssuers), uri(u)])),
  ];
  return extension(OID.authorityInfoAccess, false, sequence(descs));
};
const ia5Bytes = (s: string): Buffer => {
  if (!isIa5String(s)) throw new BadRequestError(`URL ${JSON.stringify(s)}: must be ASCII (IA5String)`);
  return Buffer.from(s, "latin1");
};

export const crlNumberExtension = (n: bigint | number): Buffer => extension(OID.crlNumber, false, integer(n));
export const crlReasonExtension = (code: number): Buffer => extension(OID.crlReason, false, enumerated(code));

// ---------------------------------------------------------------- decoding

export interface DecodedExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue's content: the DER of the extension's own structure. */
  readonly value: Buffer;
}

/** Extensions ::= SEQUENCE OF Extension; a repeated extension is an error (RFC 5280 4.2). */
export const decodeExtensions = (buf: Uint8Array, seq: Tlv, what = "extensions"): Map<string, DecodedExtension> => {
  const out = new Map<string, DecodedExtension>();
  for (const ext of children(buf, expectTag(seq, TAG.SEQUENCE, what), what)) {
    const parts = children(buf, expectTag(ext, TAG.SEQUENCE, what), what);
    const o = readOid(buf, parts[0], `${what} extnID`);
    const critical = parts.length === 3 ? readBoolean(buf, parts[1], `${what} ${o} critical`) : false;
    const value = readOctetString(buf, parts[parts.length - 1], `${what} ${o} extnValue`);
    if (parts.length < 2 || parts.length > 3) throw new DerError(`${what}: malformed extension ${o}`);
    if (out.has(o)) throw new DerError(`${what}: extension ${o} appears twice`);
    out.set(o, { oid: o, critical, value: Buffer.from(value) });
  }
  return out;
};

/**
 * TLS Feature (RFC 7633), what `certbot --must-staple` and `openssl req -addext tlsfeature=status_request` ask
 * for: the TLS extensions the server promises to send, here OCSP stapling, status_request (5) or
 * status_request_v2 (17). Not critical (RFC 7633 4.2).
 */
export const TLS_FEATURES: ReadonlyMap<number, string> = new Map([[5, "status_request"], [17, "status_request_v2"]]);
export const tlsFeatureExtension = (features: readonly number[]): Buffer => extension(OID.tlsFeature, false, sequence(features.map((f) => integer(f))));
export const decodeTlsFeature = (value: Buffer): number[] =>
  children(value, expectTag(readRoot(value, "tlsFeature"), TAG.SEQUENCE, "tlsFeature"), "tlsFeature").map((t) => readSmallInteger(value, t, "tlsFeature"));

export const decodeBasicConstraints = (value: Buffer): { isCA: boolean; pathLength?: number } => {
  const parts = children(value, expectTag(readRoot(value, "basicConstraints"), TAG.SEQUENCE, "basicConstraints"), "basicConstraints");
  let i = 0;
  let isCA = false;
  if (parts[i]?.tag === TAG.BOOLEAN) isCA = readBoolean(value, parts[i++], "basicConstraints cA");
  const pathLength = parts[i] ? readSmallInteger(value, parts[i], "basicConstraints pathLenConstraint") : undefined;
  return pathLength === undefined ? { isCA } : { isCA, pathLength };
};

export const decodeKeyUsage = (value: Buffer): KeyUsage[] =>
  readNamedBits(value, readRoot(value, "keyUsage"), "keyUsage").map((bit) => {
    const u = KEY_USAGES.find((k) => KEY_USAGE_BIT[k] === bit);
    if (!u) throw new DerError(`keyUsage: unknown bit ${bit}`);
    return u;
  });

/** Known EKUs by name, unknown ones as dotted OIDs (so a policy can refuse them by name). */
export const decodeExtKeyUsage = (value: Buffer): { known: ExtendedKeyUsage[]; unknown: string[] } => {
  const known: ExtendedKeyUsage[] = [];
  const unknown: string[] = [];
  for (const t of children(value, expectTag(readRoot(value, "extKeyUsage"), TAG.SEQUENCE, "extKeyUsage"), "extKeyUsage")) {
    const o = readOid(value, t, "extKeyUsage");
    const k = EKU_BY_OID.get(o);
    if (k) known.push(k);
    else unknown.push(o);
  }
  return { known, unknown };
};

/** SANs we can express, plus a description of each GeneralName we cannot (otherName, directoryName, ...). */
export const decodeSubjectAltName = (value: Buffer): { sans: SubjectAltName[]; unsupported: string[] } => {
  const sans: SubjectAltName[] = [];
  const unsupported: string[] = [];
  const names = children(value, expectTag(readRoot(value, "subjectAltName"), TAG.SEQUENCE, "subjectAltName"), "subjectAltName");
  for (const n of names) {
    const c = contentOf(value, n);
    switch (n.tag) {
      case 0x81: sans.push({ type: "email", value: c.toString("latin1") }); break;
      case 0x82: sans.push({ type: "dns_name", value: c.toString("latin1") }); break;
      case 0x86: sans.push({ type: "uri", value: c.toString("latin1") }); break;
      case 0x87: {
        const ip = bytesToIp(c);
        if (!ip) throw new DerError(`subjectAltName: iPAddress of ${c.length} octets`);
        sans.push({ type: "ip_address", value: ip });
        break;
      }
      default: unsupported.push(GENERAL_NAME_KINDS[n.tag & 0x1f] ?? `GeneralName [${n.tag & 0x1f}]`);
    }
  }
  return { sans, unsupported };
};
const GENERAL_NAME_KINDS: Readonly<Record<number, string>> = { 0: "otherName", 3: "x400Address", 4: "directoryName", 5: "ediPartyName", 8: "registeredID" };

export const decodeSubjectKeyIdentifier = (value: Buffer): Buffer => Buffer.from(readOctetString(value, readRoot(value, "subjectKeyIdentifier"), "subjectKeyIdentifier"));

export const decodeAuthorityKeyIdentifier = (value: Buffer): Buffer | undefined => {
  const parts = children(value, expectTag(readRoot(value, "authorityKeyIdentifier"), TAG.SEQUENCE, "authorityKeyIdentifier"), "authorityKeyIdentifier");
  const keyId = parts.find((p) => p.tag === 0x80);
  return keyId ? Buffer.from(contentOf(value, keyId)) : undefined;
};
