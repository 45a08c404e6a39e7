/**
 * PKCS#10 certificate requests (RFC 2986), parsed cheaply with our DER reader: subject, public key facts,
 * and every requested extension a policy must judge (SANs, basicConstraints, keyUsage, extKeyUsage), so a
 * CSR cannot smuggle anything past the policy. The signature (proof of possession) is verified on worker
 * threads. Anything malformed, unsupported or wrongly signed is a BadRequestError that names the problem.
 */
import { TAG } from "../../crypto/der/writer.js";
import { DerError, bytesOf, children, expectTag, readBitString, readOid, readRoot, readSmallInteger } from "../../crypto/der/reader.js";
import { fromPem } from "../../crypto/der/pem.js";
import { publicKeyInputFromSpki } from "../../crypto/key-der.js";
import { verifyOffThread } from "../../crypto/verify-pool.js";
import type { KeyAlgorithm } from "../../crypto/keys.js";
import { BadRequestError } from "../errors.js";
import { SIGNATURE_BY_OID, signatureFamily, signatureHash } from "./algorithms.js";
import type { ExtendedKeyUsage, KeyUsage, SignatureAlgorithm } from "./algorithms.js";
import { OID, decodeBasicConstraints, decodeExtKeyUsage, decodeExtensions, decodeKeyUsage, decodeSubjectAltName, decodeTlsFeature } from "./extensions.js";
import { decodeName } from "./name.js";
import type { NameAttribute, SubjectFields } from "./name.js";
import type { SubjectAltName } from "./san.js";
import { spkiInfo } from "./spki.js";

const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const MS_EXTENSION_REQUEST = "1.3.6.1.4.1.311.2.1.14"; // what Windows certreq writes instead
const WEAK_SIGNATURES: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption", "1.2.840.113549.1.1.4": "md5WithRSAEncryption", "1.2.840.10045.4.1": "ecdsa-with-SHA1",
};

export interface ParsedCsr {
  readonly der: Buffer;
  readonly subject: SubjectFields;
  /** Subject attributes outside the six api.md fields (emailAddress, a second OU, ...): a policy refuses them. */
  readonly otherSubjectAttributes: readonly NameAttribute[];
  readonly spkiDer: Buffer;
  /** Undefined when the key is not one of api.md's six; `keyDescription` says what it is. */
  readonly keyAlgorithm?: KeyAlgorithm;
  readonly keyDescription: string;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly sans: readonly SubjectAltName[];
  /** GeneralName kinds we cannot issue (otherName, directoryName, ...). */
  readonly unsupportedSans: readonly string[];
  /** Undefined when the CSR requests no such extension. */
  readonly keyUsages?: readonly KeyUsage[];
  readonly extendedKeyUsages?: readonly ExtendedKeyUsage[];
  /** Requested EKU OIDs with no api.md name. */
  readonly unknownExtendedKeyUsages: readonly string[];
  /** The type of every attribute (PKCS#10 attributes, e.g. extensionRequest, challengePassword), as OIDs. */
  readonly attributeTypes: readonly string[];
  readonly basicConstraints?: { readonly isCA: boolean; readonly pathLength?: number };
  /** The TLS Feature extension's values (RFC 7633; 5 = OCSP must-staple), when requested. */
  readonly tlsFeatures?: readonly number[];
  /** OIDs of other requested extensions: never copied into a certificate, listed for information. */
  readonly otherExtensions: readonly string[];
  /** The signed part and the signature, for verifyCsr(). */
  readonly toBeSigned: Buffer;
  readonly signature: Buffer;
}

/** PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) or DER → structure. Does not verify the signature. */
export const parseCsr = (input: string | Uint8Array): ParsedCsr => {
  let der: Buffer;
  if (typeof input === "string") {
    try {
      der = fromPem(input, ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]).der;
    } catch (e) {
      throw new BadRequestError(`csr: ${(e as Error).message}`);
    }
  } else der = Buffer.from(input);
  try {
    return parseDer(der);
  } catch (e) {
    if (e instanceof DerError) throw new BadRequestError(`csr: malformed PKCS#10 request (${e.message})`);
    throw e;
  }
};

const parseDer = (der: Buffer): ParsedCsr => {
  const root = expectTag(readRoot(der, "CertificationRequest"), TAG.SEQUENCE, "CertificationRequest");
  const [cri, sigAlgT, sigT, extra] = children(der, root, "CertificationRequest");
  if (extra) throw new DerError("CertificationRequest: unexpected trailing field");
  const [versionT, subjectT, spkiT, attrsT] = children(der, expectTag(cri, TAG.SEQUENCE, "certificationRequestInfo"), "certificationRequestInfo");
  const version = readSmallInteger(der, versionT, "version");
  if (version !== 0) throw new DerError(`unsupported version ${version}`);
  const subject = decodeName(der, subjectT, "subject");
  const spkiDer = Buffer.from(bytesOf(der, expectTag(spkiT, TAG.SEQUENCE, "subjectPKInfo")));
  const key = spkiInfo(spkiDer);

  const sigOid = readOid(der, children(der, expectTag(sigAlgT, TAG.SEQUENCE, "signatureAlgorithm"), "signatureAlgorithm")[0], "signatureAlgorithm");
  const signatureAlgorithm = SIGNATURE_BY_OID.get(sigOid);
  if (!signatureAlgorithm) {
    const weak = WEAK_SIGNATURES[sigOid];
    throw new BadRequestError(
      weak ? `csr: ${weak} signatures are too weak; sign the request with SHA-256 or stronger` : `csr: unsupported signature algorithm ${sigOid}`,
    );
  }
  const { bytes: signature, unused } = readBitString(der, sigT, "signature");
  if (unused) throw new DerError("signature: unused bits");

  let extensions = new Map<string, { critical: boolean; value: Buffer }>();
  const attributeTypes: string[] = [];
  if (attrsT) {
    expectTag(attrsT, 0xa0, "attributes");
    for (const attr of children(der, attrsT, "attributes")) {
      const [typeT, valuesT] = children(der, expectTag(attr, TAG.SEQUENCE, "attribute"), "attribute");
      const type = readOid(der, typeT, "attribute type");
      attributeTypes.push(type);
      if (type !== EXTENSION_REQUEST && type !== MS_EXTENSION_REQUEST) continue;
      const values = children(der, expectTag(valuesT, TAG.SET, "extensionRequest"), "extensionRequest");
      if (values.length !== 1) throw new DerError("extensionRequest: expected exactly one value");
      if (extensions.size) throw new DerError("extensionRequest: appears twice");
      extensions = decodeExtensions(der, values[0], "requested extensions");
    }
  }
  const ext = (o: string): Buffer | undefined => extensions.get(o)?.value;
  const san = ext(OID.subjectAltName);
  const sans = san ? decodeSubjectAltName(san) : { sans: [], unsupported: [] };
  const ku = ext(OID.keyUsage);
  const eku = ext(OID.extKeyUsage);
  const ekus = eku ? decodeExtKeyUsage(eku) : undefined;
  const bc = ext(OID.basicConstraints);
  const tls = ext(OID.tlsFeature);
  const handled = new Set<string>([OID.subjectAltName, OID.keyUsage, OID.extKeyUsage, OID.basicConstraints, OID.tlsFeature]);
  return {
    der,
    subject: subject.fields,
    otherSubjectAttributes: subject.others,
    spkiDer,
    ...(key.keyAlgorithm && { keyAlgorithm: key.keyAlgorithm }),
    keyDescription: key.description,
    signatureAlgorithm,
    sans: sans.sans,
    unsupportedSans: sans.unsupported,
    ...(ku && { keyUsages: decodeKeyUsage(ku) }),
    ...(ekus && { extendedKeyUsages: ekus.known }),
    unknownExtendedKeyUsages: ekus?.unknown ?? [],
    ...(bc && { basicConstraints: decodeBasicConstraints(bc) }),
    ...(tls && { tlsFeatures: decodeTlsFeature(tls) }),
    otherExtensions: [...extensions.keys()].filter((o) => !handled.has(o)),
    attributeTypes,
    toBeSigned: Buffer.from(bytesOf(der, cri)),
    signature: Buffer.from(signature),
  };
};

/**
 * Proof of possession: the CSR is signed by the key it carries. Key import and verification run on a worker
 * thread (crypto/verify-pool.ts): importing a key that arrives with each request is as costly as checking it.
 */
export const verifyCsr = async (csr: ParsedCsr): Promise<void> => {
  const outcome = await verifyOffThread({
    key: publicKeyInputFromSpki(csr.spkiDer), hash: signatureHash(csr.signatureAlgorithm), data: csr.toBeSigned, signature: csr.signature,
    expectKeyType: signatureFamily(csr.signatureAlgorithm),
  });
  if (outcome.result === "key-unusable") throw new BadRequestError(`csr: unusable public key (${csr.keyDescription})`);
  if (outcome.result === "wrong-key-type") throw new BadRequestError(`csr: signature algorithm ${csr.signatureAlgorithm} does not fit its ${csr.keyDescription} key`);
  if (outcome.result !== "verified") throw new BadRequestError("csr: signature verification failed (the request was not signed by the key it contains)");
};

/** parseCsr + verifyCsr. */
export const parseAndVerifyCsr = async (input: string | Uint8Array): Promise<ParsedCsr> => {
  const csr = parseCsr(input);
  await verifyCsr(csr);
  return csr;
};
