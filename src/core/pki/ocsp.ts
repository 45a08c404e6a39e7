/**
 * OCSP responder core (RFC 6960), CA-signed: the CA that issued a certificate signs the answer about it
 * (responderID byKey), so no delegated responder certificate is needed. Input is the DER OCSPRequest (the
 * route decodes the GET form with ocspRequestFromGetPath); output is always a DER OCSPResponse, errors
 * included (malformedRequest, unauthorized, internalError), which is what OCSP clients expect on HTTP 200.
 */
import { createHash } from "node:crypto";
import { TAG, enumerated, explicit, implicitConstructed, oid, octetString, sequence, bitString } from "../../crypto/der/writer.js";
import { generalizedTime, truncateToSeconds } from "../../crypto/der/time.js";
import {
  DerError, bytesOf, children, expectTag, readBitString, readOctetString, readOid, readRoot, readSerialHex,
} from "../../crypto/der/reader.js";
import { revocationReasonCode, signatureAlgorithmIdentifier } from "./algorithms.js";
import type { RevocationReason } from "./algorithms.js";
import type { IssuerContext } from "./issuer.js";
import { signAsync } from "./sign.js";
import { spkiInfo } from "./spki.js";

export const OCSP_RESPONSE_CONTENT_TYPE = "application/ocsp-response";
export const OCSP_REQUEST_CONTENT_TYPE = "application/ocsp-request";

const ID_PKIX_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1";
const ID_PKIX_OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2";
const HASHES: Readonly<Record<string, OcspHash>> = {
  "1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512",
};
export type OcspHash = "sha1" | "sha256" | "sha384" | "sha512";

/** OCSPResponseStatus (RFC 6960 4.2.1). */
export const OCSP_RESPONSE_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;
export type OcspResponseStatus = keyof typeof OCSP_RESPONSE_STATUS;

export interface OcspCertId {
  /** undefined when the request uses a hash we do not know: such an id matches no issuer. */
  readonly hashAlgorithm: OcspHash | undefined;
  readonly issuerNameHash: Buffer;
  readonly issuerKeyHash: Buffer;
  /** Lowercase hex of the serial's magnitude, the form issuance returns as `serialNumber`. */
  readonly serialNumber: string;
  /** The CertID exactly as sent: echoed in the answer, as clients compare it. */
  readonly der: Buffer;
}

export interface ParsedOcspRequest {
  readonly certIds: readonly OcspCertId[];
  /** The nonce Extension as sent (whole DER), echoed in the response. */
  readonly nonceExtension?: Buffer;
}

/** Throws DerError when malformed; respondOcsp() turns that into a malformedRequest response. */
export const parseOcspRequest = (der: Uint8Array): ParsedOcspRequest => {
  const root = expectTag(readRoot(der, "OCSPRequest"), TAG.SEQUENCE, "OCSPRequest");
  const [tbs] = children(der, root, "OCSPRequest");
  const fields = children(der, expectTag(tbs, TAG.SEQUENCE, "tbsRequest"), "tbsRequest");
  let i = 0;
  if (fields[i]?.tag === 0xa0) i++; // version, v1 only
  if (fields[i]?.tag === 0xa1) i++; // requestorName: informational
  const list = children(der, expectTag(fields[i++], TAG.SEQUENCE, "requestList"), "requestList");
  if (list.length === 0) throw new DerError("requestList: empty");
  if (list.length > 32) throw new DerError("requestList: more than 32 requests");
  const certIds = list.map((req) => {
    const [certId] = children(der, expectTag(req, TAG.SEQUENCE, "Request"), "Request");
    const [alg, nameHash, keyHash, serial] = children(der, expectTag(certId, TAG.SEQUENCE, "CertID"), "CertID");
    const hashOid = readOid(der, children(der, expectTag(alg, TAG.SEQUENCE, "hashAlgorithm"), "hashAlgorithm")[0], "hashAlgorithm");
    return {
      hashAlgorithm: HASHES[hashOid],
      issuerNameHash: Buffer.from(readOctetString(der, nameHash, "issuerNameHash")),
      issuerKeyHash: Buffer.from(readOctetString(der, keyHash, "issuerKeyHash")),
      serialNumber: readSerialHex(der, serial, "serialNumber"),
      der: Buffer.from(bytesOf(der, certId)),
    };
  });
  let nonceExtension: Buffer | undefined;
  const ext = fields[i];
  if (ext?.tag === 0xa2) {
    for (const e of children(der, children(der, ext, "requestExtensions")[0] ?? ext, "requestExtensions")) {
      const [idT, ...rest] = children(der, expectTag(e, TAG.SEQUENCE, "extension"), "extension");
      if (readOid(der, idT, "extension") !== ID_PKIX_OCSP_NONCE) continue;
      const value = readOctetString(der, rest[rest.length - 1], "nonce");
      // RFC 8954: a nonce is 1..32 octets; allow slack for clients that wrap it, but refuse absurd sizes.
      if (value.length === 0 || value.length > 128) throw new DerError("nonce: bad length");
      nonceExtension = Buffer.from(bytesOf(der, e));
    }
  }
  return { certIds, ...(nonceExtension && { nonceExtension }) };
};

/**
 * The GET form (RFC 6960 A.1): `GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}`.
 * Pass the path segment after the responder prefix. Tolerates base64url and missing padding; junk
 * yields bytes that respondOcsp() answers with malformedRequest.
 */
export const ocspRequestFromGetPath = (segment: string): Buffer => {
  let text: string;
  try {
    text = decodeURIComponent(segment);
  } catch {
    return Buffer.alloc(0);
  }
  return Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
};

export type OcspCertStatus =
  | { readonly status: "good" }
  | { readonly status: "revoked"; readonly revokedAt: Date | number; readonly reason?: RevocationReason }
  | { readonly status: "unknown" };

/** Status of one certificate: `serialHex` is lowercase hex of the magnitude (as `serialNumber` is stored). */
export type OcspLookup = (issuerNameHash: Buffer, issuerKeyHash: Buffer, serialHex: string, issuer: IssuerContext) => Promise<OcspCertStatus>;

export interface OcspResponderOptions {
  /** The CAs this responder answers for, or a resolver by CertID. */
  readonly issuers: readonly IssuerContext[] | ((certId: OcspCertId) => Promise<IssuerContext | undefined>);
  readonly lookup: OcspLookup;
  /** From the clock: producedAt and thisUpdate. */
  readonly now: number;
  /** nextUpdate = now + this; default one hour (answers are computed live, so caches should not hold them long). */
  readonly validityMs?: number;
  /** Put the CA certificate in `certs` (default true): saves clients a lookup; costs a few hundred bytes. */
  readonly includeCertificate?: boolean;
  /** Told about a lookup or signing failure, answered as internalError (for logs). */
  readonly onError?: (error: unknown) => void;
}

// Per-CA hashes for CertID matching: name hash over the subject Name DER, key hash over the public key bits.
const idCache = new WeakMap<IssuerContext, Map<OcspHash, { name: Buffer; key: Buffer }>>();
const issuerHashes = (ctx: IssuerContext, hash: OcspHash): { name: Buffer; key: Buffer } => {
  let m = idCache.get(ctx);
  if (!m) idCache.set(ctx, (m = new Map()));
  let h = m.get(hash);
  if (!h) {
    const keyBits = spkiKeyBits(ctx.certificate.spkiDer);
    h = { name: createHash(hash).update(ctx.subjectDer).digest(), key: createHash(hash).update(keyBits).digest() };
    m.set(hash, h);
  }
  return h;
};
const spkiKeyBits = (spki: Buffer): Buffer => readBitString(spki, children(spki, readRoot(spki, "spki"), "spki")[1], "subjectPublicKey").bytes;

export const issuerMatches = (ctx: IssuerContext, id: OcspCertId): boolean => {
  if (!id.hashAlgorithm) return false;
  const h = issuerHashes(ctx, id.hashAlgorithm);
  return h.name.equals(id.issuerNameHash) && h.key.equals(id.issuerKeyHash);
};

export const ocspErrorResponse = (status: Exclude<OcspResponseStatus, "successful">): Buffer => sequence([enumerated(OCSP_RESPONSE_STATUS[status])]);

const certStatus = (s: OcspCertStatus): Buffer => {
  if (s.status === "good") return Buffer.from([0x80, 0x00]); // good [0] IMPLICIT NULL
  if (s.status === "unknown") return Buffer.from([0x82, 0x00]); // unknown [2] IMPLICIT NULL
  const code = s.reason ? revocationReasonCode(s.reason) : 0;
  const parts = [generalizedTime(truncateToSeconds(+s.revokedAt))];
  if (code !== 0) parts.push(explicit(0, [enumerated(code)]));
  return implicitConstructed(1, parts); // revoked [1] IMPLICIT RevokedInfo
};

/** Answers an OCSPRequest. Never throws for bad input: every outcome is a DER OCSPResponse. */
export const respondOcsp = async (requestDer: Uint8Array, opts: OcspResponderOptions): Promise<Buffer> => {
  let req: ParsedOcspRequest;
  try {
    req = parseOcspRequest(requestDer);
  } catch (e) {
    if (e instanceof DerError || e instanceof RangeError) return ocspErrorResponse("malformedRequest");
    throw e;
  }
  try {
    // One signature per response, so every CertID must belong to the same CA (RFC 5019 clients send one).
    let issuer: IssuerContext | undefined;
    for (const id of req.certIds) {
      const found = Array.isArray(opts.issuers)
        ? (opts.issuers as readonly IssuerContext[]).find((c) => issuerMatches(c, id))
        : await (opts.issuers as (id: OcspCertId) => Promise<IssuerContext | undefined>)(id);
      if (!found || (issuer && found !== issuer) || !issuerMatches(found, id)) return ocspErrorResponse("unauthorized");
      issuer = found;
    }
    const ca = issuer!;
    const now = truncateToSeconds(opts.now);
    const nextUpdate = truncateToSeconds(opts.now + (opts.validityMs ?? 3_600_000));
    const responses: Buffer[] = [];
    for (const id of req.certIds) {
      const status = await opts.lookup(id.issuerNameHash, id.issuerKeyHash, id.serialNumber, ca);
      responses.push(sequence([id.der, certStatus(status), generalizedTime(now), explicit(0, [generalizedTime(nextUpdate)])]));
    }
    const responderKeyHash = spkiInfo(ca.certificate.spkiDer).keyId; // byKey is SHA-1 of the key bits, whatever the SKI says
    const tbs = sequence([
      explicit(2, [octetString(responderKeyHash)]),
      generalizedTime(now),
      sequence(responses),
      ...(req.nonceExtension ? [explicit(1, [sequence([req.nonceExtension])])] : []),
    ]);
    const signature = await signAsync(ca.defaultSignatureAlgorithm, tbs, ca.privateKey);
    const basic = sequence([
      tbs,
      signatureAlgorithmIdentifier(ca.defaultSignatureAlgorithm),
      bitString(signature),
      ...(opts.includeCertificate === false ? [] : [explicit(0, [sequence([ca.certificate.der])])]),
    ]);
    return sequence([enumerated(OCSP_RESPONSE_STATUS.successful), explicit(0, [sequence([oid(ID_PKIX_OCSP_BASIC), octetString(basic)])])]);
  } catch (e) {
    opts.onError?.(e);
    // A failing lookup (database down) must not look like "good" or "unknown" to the client.
    return ocspErrorResponse("internalError");
  }
};
