/**
 * CRLs (RFC 5280 5): v2, signed by the CA whose IssuerContext is given, with thisUpdate/nextUpdate, revoked
 * entries (reason codes as entry extensions), CRL number and AKI. DER, and PEM labelled `X509 CRL` (written
 * by us: @peculiar/x509 labels CRLs wrongly, DESIGN.md). Our own DER rather than a builder: it reuses the
 * issuer's precomputed Name and key identifier, and a CRL of 10,000 entries is one pass of buffer copies.
 */
import { explicit, integer, integerFromUnsigned, sequence } from "../../crypto/der/writer.js";
import { x509Time } from "../../crypto/der/time.js";
import { toPem } from "../../crypto/der/pem.js";
import { BadRequestError } from "../errors.js";
import { assertSignatureCompatible, revocationReasonCode, signatureAlgorithmIdentifier } from "./algorithms.js";
import type { RevocationReason, SignatureAlgorithm } from "./algorithms.js";
import { authorityKeyIdentifierExtension, crlNumberExtension, crlReasonExtension } from "./extensions.js";
import type { IssuerContext } from "./issuer.js";
import { signEnvelope } from "./sign.js";

export interface RevokedEntry {
  /** Hex serial as stored (`serialNumber`); case and a leading sign-padding 00 are ignored. */
  readonly serialNumber: string;
  readonly revokedAt: Date | number;
  /** UNSPECIFIED (or absent) writes no reasonCode extension, as RFC 5280 5.3.1 asks. */
  readonly reason?: RevocationReason;
}

export interface CrlOptions {
  readonly thisUpdate: Date | number;
  /** Infisical re-signs with nextUpdate = thisUpdate + 7 days (api.md 7.3). */
  readonly nextUpdate: Date | number;
  /** Monotonically increasing per CA (RFC 5280 5.2.3). */
  readonly crlNumber: bigint | number;
  readonly revoked: readonly RevokedEntry[];
  readonly signatureAlgorithm?: SignatureAlgorithm;
}

export interface BuiltCrl {
  readonly der: Buffer;
  readonly pem: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

/** v2 */
const VERSION_2 = integer(1);

export const serialBytes = (hex: string, field = "serialNumber"): Buffer => {
  const h = hex.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(h)) throw new BadRequestError(`${field}: ${JSON.stringify(hex)} is not a hex serial number of at most 20 octets`);
  return Buffer.from(h.length % 2 ? `0${h}` : h, "hex");
};

const seconds = (t: Date | number): number => Math.floor(+t / 1000) * 1000;

export const buildCrl = async (issuer: IssuerContext, opts: CrlOptions): Promise<BuiltCrl> => {
  const signatureAlgorithm = opts.signatureAlgorithm ?? issuer.defaultSignatureAlgorithm;
  assertSignatureCompatible(signatureAlgorithm, issuer.keyAlgorithm);
  const thisUpdate = seconds(opts.thisUpdate);
  const nextUpdate = seconds(opts.nextUpdate);
  if (!(nextUpdate > thisUpdate)) throw new BadRequestError("nextUpdate: must be after thisUpdate");
  const entries = opts.revoked.map((r, i) => {
    const parts = [integerFromUnsigned(serialBytes(r.serialNumber, `revoked[${i}].serialNumber`)), x509Time(seconds(r.revokedAt))];
    const code = r.reason ? revocationReasonCode(r.reason) : 0;
    if (code !== 0) parts.push(sequence([crlReasonExtension(code)]));
    return sequence(parts);
  });
  const tbs = sequence([
    VERSION_2,
    signatureAlgorithmIdentifier(signatureAlgorithm),
    issuer.subjectDer,
    x509Time(thisUpdate),
    x509Time(nextUpdate),
    // RFC 5280 5.1.2.6: with no revoked certificates the list MUST be absent, not empty.
    ...(entries.length ? [sequence(entries)] : []),
    explicit(0, [sequence([authorityKeyIdentifierExtension(issuer.keyId), crlNumberExtension(BigInt(opts.crlNumber))])]),
  ]);
  const der = await signEnvelope(tbs, signatureAlgorithm, issuer.privateKey);
  return { der, pem: toPem("X509 CRL", der), thisUpdate: new Date(thisUpdate), nextUpdate: new Date(nextUpdate) };
};
