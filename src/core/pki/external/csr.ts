import type { KeyObject } from "node:crypto";
import { implicitConstructed, integer, oid, sequence, set } from "../../../crypto/der/writer.js";
import { toPem } from "../../../crypto/der/pem.js";
import type { KeyAlgorithm } from "../../../crypto/keys.js";
import { defaultSignatureAlgorithm } from "../algorithms.js";
import { subjectAltNameExtension } from "../extensions.js";
import { encodeName, type SubjectFields } from "../name.js";
import type { SubjectAltName } from "../san.js";
import { signEnvelope } from "../sign.js";

const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

/**
 * The PKCS#10 request sent to finalize an order (RFC 8555 7.4): the CA issues for the names in its
 * subjectAltName extension, carried in an extensionRequest attribute (RFC 2986 4.1, RFC 2985 5.4.2).
 */
export const buildOrderCsr = async (o: { subject: SubjectFields; sans: readonly SubjectAltName[]; privateKey: KeyObject; spkiDer: Buffer; keyAlgorithm: KeyAlgorithm }) => {
  const extensions = sequence([subjectAltNameExtension(o.sans, !o.subject.commonName)]);
  const attributes = implicitConstructed(0, [sequence([oid(EXTENSION_REQUEST), set([extensions])])]);
  const cri = sequence([integer(0), encodeName(o.subject), o.spkiDer, attributes]);
  const der = await signEnvelope(cri, defaultSignatureAlgorithm(o.keyAlgorithm), o.privateKey);
  return { der, pem: toPem("CERTIFICATE REQUEST", der) };
};
