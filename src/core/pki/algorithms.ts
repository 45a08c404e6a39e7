/**
 * PKI enums of api.md 7.1 and their spellings. Policies spell algorithms differently from issue requests
 * (api.md 7.4 mapping table) and clients send key usages in snake_case or legacy camelCase (api.md 8 #11):
 * everything is normalised here, once, to the request form.
 */
import { KEY_ALGORITHMS, KEY_SPECS, isKeyAlgorithm } from "../../crypto/keys.js";
import type { KeyAlgorithm } from "../../crypto/keys.js";
import { NULL, oid, sequence } from "../../crypto/der/writer.js";
import { BadRequestError } from "../errors.js";

export { KEY_ALGORITHMS, isKeyAlgorithm };
export type { KeyAlgorithm };

export const SIGNATURE_ALGORITHMS = ["RSA-SHA256", "RSA-SHA384", "RSA-SHA512", "ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512"] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];
export const isSignatureAlgorithm = (s: unknown): s is SignatureAlgorithm =>
  typeof s === "string" && (SIGNATURE_ALGORITHMS as readonly string[]).includes(s);

export const KEY_USAGES = [
  "digital_signature", "non_repudiation", "key_encipherment", "data_encipherment", "key_agreement",
  "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

/** Bit positions of RFC 5280 4.2.1.3 KeyUsage, index = bit. */
export const KEY_USAGE_BIT: Readonly<Record<KeyUsage, number>> = {
  digital_signature: 0, non_repudiation: 1, key_encipherment: 2, data_encipherment: 3, key_agreement: 4,
  key_cert_sign: 5, crl_sign: 6, encipher_only: 7, decipher_only: 8,
};

const KEY_USAGE_LEGACY: Readonly<Record<string, KeyUsage>> = {
  digitalSignature: "digital_signature", nonRepudiation: "non_repudiation", contentCommitment: "non_repudiation",
  keyEncipherment: "key_encipherment", dataEncipherment: "data_encipherment", keyAgreement: "key_agreement",
  keyCertSign: "key_cert_sign", cRLSign: "crl_sign", crlSign: "crl_sign", encipherOnly: "encipher_only", decipherOnly: "decipher_only",
};

export const EXTENDED_KEY_USAGES = ["server_auth", "client_auth", "code_signing", "email_protection", "time_stamping", "ocsp_signing"] as const;
export type ExtendedKeyUsage = (typeof EXTENDED_KEY_USAGES)[number];

export const EKU_OID: Readonly<Record<ExtendedKeyUsage, string>> = {
  server_auth: "1.3.6.1.5.5.7.3.1",
  client_auth: "1.3.6.1.5.5.7.3.2",
  code_signing: "1.3.6.1.5.5.7.3.3",
  email_protection: "1.3.6.1.5.5.7.3.4",
  time_stamping: "1.3.6.1.5.5.7.3.8",
  ocsp_signing: "1.3.6.1.5.5.7.3.9",
};
export const EKU_BY_OID: ReadonlyMap<string, ExtendedKeyUsage> = new Map(Object.entries(EKU_OID).map(([k, v]) => [v, k as ExtendedKeyUsage]));

const EKU_LEGACY: Readonly<Record<string, ExtendedKeyUsage>> = {
  serverAuth: "server_auth", clientAuth: "client_auth", codeSigning: "code_signing",
  emailProtection: "email_protection", timeStamping: "time_stamping", ocspSigning: "ocsp_signing", OCSPSigning: "ocsp_signing",
};

/** Accepts `digital_signature` or `digitalSignature`; undefined for anything else. */
export const parseKeyUsage = (s: string): KeyUsage | undefined =>
  (KEY_USAGES as readonly string[]).includes(s) ? (s as KeyUsage) : KEY_USAGE_LEGACY[s];
export const parseExtendedKeyUsage = (s: string): ExtendedKeyUsage | undefined =>
  (EXTENDED_KEY_USAGES as readonly string[]).includes(s) ? (s as ExtendedKeyUsage) : EKU_LEGACY[s];

/** Normalises a list from a request or policy; unknown names → BadRequestError naming `field` and the value. */
export const normalizeKeyUsages = (list: readonly string[], field = "keyUsages"): KeyUsage[] => normalizeList(list, parseKeyUsage, field, KEY_USAGES);
export const normalizeExtendedKeyUsages = (list: readonly string[], field = "extendedKeyUsages"): ExtendedKeyUsage[] =>
  normalizeList(list, parseExtendedKeyUsage, field, EXTENDED_KEY_USAGES);

const normalizeList = <T extends string>(list: readonly string[], parse: (s: string) => T | undefined, field: string, known: readonly T[]): T[] => {
  const out: T[] = [];
  for (const s of list) {
    const v = parse(s);
    if (!v) throw new BadRequestError(`${field}: unknown value ${JSON.stringify(s)} (expected one of ${known.join(", ")})`);
    if (!out.includes(v)) out.push(v);
  }
  return out;
};

/** Legacy/stored camelCase form (CertRecord.keyUsages in api.md 7.8 uses it). */
export const keyUsageLegacyName = (u: KeyUsage): string => (u === "crl_sign" ? "cRLSign" : snakeToCamel(u));
export const extendedKeyUsageLegacyName = (u: ExtendedKeyUsage): string => snakeToCamel(u);
const snakeToCamel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

// Policy spellings (api.md 7.4): SHA256-RSA / ECDSA-P256 etc. map to the request spellings.
const POLICY_SIGNATURE: Readonly<Record<string, SignatureAlgorithm>> = {
  "SHA256-RSA": "RSA-SHA256", "SHA384-RSA": "RSA-SHA384", "SHA512-RSA": "RSA-SHA512",
  "SHA256-ECDSA": "ECDSA-SHA256", "SHA384-ECDSA": "ECDSA-SHA384", "SHA512-ECDSA": "ECDSA-SHA512",
};
const POLICY_KEY: Readonly<Record<string, KeyAlgorithm>> = {
  "RSA-2048": "RSA_2048", "RSA-3072": "RSA_3072", "RSA-4096": "RSA_4096",
  "ECDSA-P256": "EC_prime256v1", "ECDSA-P384": "EC_secp384r1", "ECDSA-P521": "EC_secp521r1",
};
const POLICY_SIGNATURE_NAME = Object.fromEntries(Object.entries(POLICY_SIGNATURE).map(([k, v]) => [v, k])) as Record<SignatureAlgorithm, string>;
const POLICY_KEY_NAME = Object.fromEntries(Object.entries(POLICY_KEY).map(([k, v]) => [v, k])) as Record<KeyAlgorithm, string>;

/** Either spelling (`SHA256-RSA` or `RSA-SHA256`) → request spelling; undefined if neither. */
export const parseSignatureAlgorithm = (s: string): SignatureAlgorithm | undefined => (isSignatureAlgorithm(s) ? s : POLICY_SIGNATURE[s]);
/** Either spelling (`ECDSA-P256` or `EC_prime256v1`) → request spelling; undefined if neither. */
export const parseKeyAlgorithm = (s: string): KeyAlgorithm | undefined => (isKeyAlgorithm(s) ? s : POLICY_KEY[s]);
export const policySignatureName = (a: SignatureAlgorithm): string => POLICY_SIGNATURE_NAME[a];
export const policyKeyName = (a: KeyAlgorithm): string => POLICY_KEY_NAME[a];

export const requireSignatureAlgorithm = (s: string, field = "signatureAlgorithm"): SignatureAlgorithm => {
  const a = parseSignatureAlgorithm(s);
  if (!a) throw new BadRequestError(`${field}: unknown signature algorithm ${JSON.stringify(s)} (expected one of ${SIGNATURE_ALGORITHMS.join(", ")})`);
  return a;
};
export const requireKeyAlgorithm = (s: string, field = "keyAlgorithm"): KeyAlgorithm => {
  const a = parseKeyAlgorithm(s);
  if (!a) throw new BadRequestError(`${field}: unknown key algorithm ${JSON.stringify(s)} (expected one of ${KEY_ALGORITHMS.join(", ")})`);
  return a;
};

export type KeyFamily = "rsa" | "ec";
export const keyFamily = (a: KeyAlgorithm): KeyFamily => KEY_SPECS[a].type;
export const signatureFamily = (s: SignatureAlgorithm): KeyFamily => (s.startsWith("RSA-") ? "rsa" : "ec");
/** node:crypto digest name for a signature algorithm. */
export const signatureHash = (s: SignatureAlgorithm): "sha256" | "sha384" | "sha512" =>
  s.endsWith("256") ? "sha256" : s.endsWith("384") ? "sha384" : "sha512";

/** The signature algorithms an issuer key can produce. */
export const compatibleSignatureAlgorithms = (issuerKey: KeyAlgorithm): SignatureAlgorithm[] =>
  SIGNATURE_ALGORITHMS.filter((s) => signatureFamily(s) === keyFamily(issuerKey));

/**
 * What a CA signs with when the request names nothing: SHA-256 for RSA; for EC the hash matching the curve's
 * strength (P-384 → SHA-384, P-521 → SHA-512), as CA/B Forum and NIST SP 800-57 pair them.
 */
export const defaultSignatureAlgorithm = (issuerKey: KeyAlgorithm): SignatureAlgorithm =>
  issuerKey === "EC_prime256v1" ? "ECDSA-SHA256" : issuerKey === "EC_secp384r1" ? "ECDSA-SHA384" : issuerKey === "EC_secp521r1" ? "ECDSA-SHA512" : "RSA-SHA256";

/** Throws BadRequestError naming both when the issuer's key cannot make the signature (RSA signature, EC key). */
export const assertSignatureCompatible = (signature: SignatureAlgorithm, issuerKey: KeyAlgorithm, field = "signatureAlgorithm"): void => {
  if (signatureFamily(signature) !== keyFamily(issuerKey)) {
    throw new BadRequestError(
      `${field}: ${signature} needs an ${signatureFamily(signature) === "rsa" ? "RSA" : "EC"} issuer key, but the issuer key is ${issuerKey}` +
        ` (compatible: ${compatibleSignatureAlgorithms(issuerKey).join(", ")})`,
    );
  }
};

const SIGNATURE_OID: Readonly<Record<SignatureAlgorithm, string>> = {
  "RSA-SHA256": "1.2.840.113549.1.1.11",
  "RSA-SHA384": "1.2.840.113549.1.1.12",
  "RSA-SHA512": "1.2.840.113549.1.1.13",
  "ECDSA-SHA256": "1.2.840.10045.4.3.2",
  "ECDSA-SHA384": "1.2.840.10045.4.3.3",
  "ECDSA-SHA512": "1.2.840.10045.4.3.4",
};
export const signatureOid = (s: SignatureAlgorithm): string => SIGNATURE_OID[s];
export const SIGNATURE_BY_OID: ReadonlyMap<string, SignatureAlgorithm> = new Map(Object.entries(SIGNATURE_OID).map(([k, v]) => [v, k as SignatureAlgorithm]));

// RFC 4055 2.1: PKCS#1 v1.5 identifiers carry an explicit NULL; RFC 5758 3.2: ECDSA ones carry no parameters.
const SIGNATURE_ALGORITHM_IDENTIFIER: Readonly<Record<SignatureAlgorithm, Buffer>> = Object.fromEntries(
  SIGNATURE_ALGORITHMS.map((s) => [s, sequence(signatureFamily(s) === "rsa" ? [oid(SIGNATURE_OID[s]), NULL] : [oid(SIGNATURE_OID[s])])]),
) as Record<SignatureAlgorithm, Buffer>;
/** The DER AlgorithmIdentifier for a signature algorithm (shared, do not mutate). */
export const signatureAlgorithmIdentifier = (s: SignatureAlgorithm): Buffer => SIGNATURE_ALGORITHM_IDENTIFIER[s];

/** api.md 7.1 revocation reasons and their RFC 5280 5.3.1 CRLReason codes (7 is unused, 8 removeFromCRL is not offered). */
export const REVOCATION_REASONS = {
  UNSPECIFIED: 0, KEY_COMPROMISE: 1, CA_COMPROMISE: 2, AFFILIATION_CHANGED: 3, SUPERSEDED: 4,
  CESSATION_OF_OPERATION: 5, CERTIFICATE_HOLD: 6, PRIVILEGE_WITHDRAWN: 9, A_A_COMPROMISE: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;
export const isRevocationReason = (s: unknown): s is RevocationReason => typeof s === "string" && Object.hasOwn(REVOCATION_REASONS, s);
export const revocationReasonCode = (r: RevocationReason): number => REVOCATION_REASONS[r];

export const SAN_TYPES = ["dns_name", "ip_address", "email", "uri"] as const;
export type SanType = (typeof SAN_TYPES)[number];

export const SUBJECT_ATTRIBUTE_TYPES = ["common_name", "organization", "organizational_unit", "country", "state", "locality"] as const;
export type SubjectAttributeType = (typeof SUBJECT_ATTRIBUTE_TYPES)[number];
