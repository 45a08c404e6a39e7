/**
 * TBSCertificate assembly (RFC 5280 4.1), shared by leaves, self-signed certificates and CAs. The caller passes
 * pre-encoded pieces (names, SPKI, extensions), most of them precomputed once per CA, so this is a few buffer
 * copies: the reason our issuance beats builders that construct an ASN.1 object tree per certificate.
 */
import { hash } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { explicit, integerFromUnsigned, sequence } from "../../crypto/der/writer.js";
import { x509Time } from "../../crypto/der/time.js";
import { toPem } from "../../crypto/der/pem.js";
import { signatureAlgorithmIdentifier } from "./algorithms.js";
import type { SignatureAlgorithm } from "./algorithms.js";
import { signEnvelope } from "./sign.js";

/** version [0] EXPLICIT INTEGER 2 (v3): constant. */
const VERSION_3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

export interface TbsParts {
  /** Unsigned magnitude, see randomSerial(). */
  readonly serial: Buffer;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly issuerDer: Buffer;
  /** Milliseconds, already truncated to whole seconds by the caller. */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subjectDer: Buffer;
  readonly spkiDer: Uint8Array;
  readonly extensions: readonly Buffer[];
}

export const encodeTbsCertificate = (p: TbsParts): Buffer =>
  sequence([
    VERSION_3,
    integerFromUnsigned(p.serial),
    signatureAlgorithmIdentifier(p.signatureAlgorithm),
    p.issuerDer,
    sequence([x509Time(p.notBefore), x509Time(p.notAfter)]),
    p.subjectDer,
    p.spkiDer,
    explicit(3, [sequence(p.extensions)]),
  ]);

/** What every issuance returns. */
export interface IssuedCertificate {
  readonly der: Buffer;
  readonly pem: string;
  /** Lowercase hex of the serial's magnitude (40 digits for our serials). */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Lowercase hex SHA-256 of the DER. */
  readonly fingerprintSha256: string;
}

export const signCertificate = async (p: TbsParts, key: KeyObject): Promise<IssuedCertificate> => {
  const der = await signEnvelope(encodeTbsCertificate(p), p.signatureAlgorithm, key);
  return {
    der,
    pem: toPem("CERTIFICATE", der),
    serialNumber: p.serial.toString("hex"),
    notBefore: new Date(p.notBefore),
    notAfter: new Date(p.notAfter),
    fingerprintSha256: hash("sha256", der, "hex"),
  };
};
