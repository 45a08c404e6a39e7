/**
 * The "certs-only" PKCS#7 / CMS message EST answers with (RFC 7030 4.1.3, 4.2.3; RFC 5652 5.1): a SignedData
 * with no signers and no content, carrying certificates. Written with our DER writer: a handful of TLVs.
 */
import { TAG, integer, oid, sequence, tlvOf } from "../../crypto/der/writer.js";

const SIGNED_DATA = "1.2.840.113549.1.7.2";
const DATA = "1.2.840.113549.1.7.1";

/** ContentInfo{signedData, SignedData{v1, {}, {data}, [0] certificates, {}}} in DER. */
export const certsOnly = (certificates: readonly Buffer[]): Buffer => {
  const signedData = sequence([
    integer(1),
    tlvOf(TAG.SET, []), // digestAlgorithms: none, nothing is signed
    sequence([oid(DATA)]), // encapContentInfo without content
    tlvOf(0xa0, certificates), // [0] IMPLICIT SET OF Certificate, in the order given (leaf or issuing CA first)
    tlvOf(TAG.SET, []), // signerInfos: none
  ]);
  return sequence([oid(SIGNED_DATA), tlvOf(0xa0, [signedData])]);
};

/** RFC 7030 bodies are base64 (RFC 2045 line length). */
export const base64Lines = (der: Buffer): string => (der.toString("base64").match(/.{1,64}/g) ?? []).join("\r\n") + "\r\n";
