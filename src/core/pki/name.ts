/**
 * Distinguished names. We write subjects in the RFC-customary order, most significant first:
 * C, ST, L, O, OU, CN (RFC 4514 prints it reversed: "CN=..., O=..., C=..."), one attribute per RDN.
 * Every attribute is a UTF8String (RFC 5280 4.1.2.6: MUST for new certificates) except countryName, which
 * X.520 fixes as a two-letter PrintableString.
 */
import { TAG, oid, printableString, sequence, set, utf8String } from "../../crypto/der/writer.js";
import { DerError, children, expectTag, readOid, readString } from "../../crypto/der/reader.js";
import type { Tlv } from "../../crypto/der/reader.js";
import { BadRequestError } from "../errors.js";
import type { SubjectAttributeType } from "./algorithms.js";

/** The six subject fields of api.md 7.2 / 7.6 (`attributes.commonName`, ...). */
export interface SubjectFields {
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
  state?: string;
  locality?: string;
}
export type SubjectField = keyof SubjectFields;

interface FieldInfo { readonly oid: string; readonly short: string; readonly policyType: SubjectAttributeType; readonly max: number }
/** Upper bounds are RFC 5280 Appendix A `ub-*` values; clients and some TLS stacks reject longer ones. */
export const SUBJECT_FIELDS: Readonly<Record<SubjectField, FieldInfo>> = {
  country: { oid: "2.5.4.6", short: "C", policyType: "country", max: 2 },
  state: { oid: "2.5.4.8", short: "ST", policyType: "state", max: 128 },
  locality: { oid: "2.5.4.7", short: "L", policyType: "locality", max: 128 },
  organization: { oid: "2.5.4.10", short: "O", policyType: "organization", max: 64 },
  organizationalUnit: { oid: "2.5.4.11", short: "OU", policyType: "organizational_unit", max: 64 },
  commonName: { oid: "2.5.4.3", short: "CN", policyType: "common_name", max: 64 },
};
/** Encoding order (most significant RDN first). */
export const SUBJECT_ORDER: readonly SubjectField[] = ["country", "state", "locality", "organization", "organizationalUnit", "commonName"];
/** Display order of `formatDn`, matching api.md's `dn` example "CN=Demo Root CA, O=Acme, C=US". */
const DISPLAY_ORDER: readonly SubjectField[] = ["commonName", "organization", "organizationalUnit", "country", "state", "locality"];

const FIELD_BY_OID: ReadonlyMap<string, SubjectField> = new Map(Object.entries(SUBJECT_FIELDS).map(([k, v]) => [v.oid, k as SubjectField]));
const OTHER_NAMES: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.9.1": "emailAddress", "2.5.4.5": "serialNumber", "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID", "2.5.4.9": "street", "2.5.4.17": "postalCode", "2.5.4.12": "title",
  "2.5.4.42": "givenName", "2.5.4.4": "surname", "2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym",
};

export const subjectFieldOfPolicyType = (t: SubjectAttributeType): SubjectField =>
  (Object.keys(SUBJECT_FIELDS) as SubjectField[]).find((f) => SUBJECT_FIELDS[f].policyType === t)!;

/** Present (non-empty) fields only: "" means absent everywhere in the API (api.md 7.2 sends `ou: ""`). */
export const presentFields = (s: SubjectFields): SubjectField[] => SUBJECT_ORDER.filter((f) => typeof s[f] === "string" && s[f] !== "");

/** Checks syntax and RFC 5280 bounds; throws BadRequestError naming the field. */
export const validateSubject = (s: SubjectFields, prefix = "subject"): void => {
  for (const f of presentFields(s)) {
    const v = s[f]!;
    const info = SUBJECT_FIELDS[f];
    if (f === "country") {
      if (!/^[A-Za-z]{2}$/.test(v)) throw new BadRequestError(`${prefix}.${f}: must be a two-letter ISO 3166 code, got ${JSON.stringify(v)}`);
    } else if ([...v].length > info.max) {
      throw new BadRequestError(`${prefix}.${f}: longer than ${info.max} characters (RFC 5280 upper bound)`);
    }
    if (v !== v.trim()) throw new BadRequestError(`${prefix}.${f}: leading or trailing whitespace`);
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(v)) throw new BadRequestError(`${prefix}.${f}: control characters are not allowed`);
  }
};

/** DER Name for the given fields (validated first). An empty subject is `SEQUENCE {}` (SAN then critical). */
export const encodeName = (s: SubjectFields): Buffer => {
  validateSubject(s);
  const rdns: Buffer[] = [];
  for (const f of presentFields(s)) {
    const v = s[f]!;
    const value = f === "country" ? printableString(v.toUpperCase()) : utf8String(v);
    rdns.push(set([sequence([oid(SUBJECT_FIELDS[f].oid), value])]));
  }
  return sequence(rdns);
};

export interface NameAttribute {
  readonly oid: string;
  /** `CN`, `O`, ..., `emailAddress`, or the dotted OID when unknown. */
  readonly shortName: string;
  readonly value: string;
}

export interface DecodedName {
  readonly fields: SubjectFields;
  /** Attributes outside the six fields, and repeated fields (a second OU): never silently dropped. */
  readonly others: NameAttribute[];
  readonly attributes: NameAttribute[];
}

/** Decodes a Name (RDNSequence). Multi-valued RDNs are flattened in order. */
export const decodeName = (buf: Uint8Array, name: Tlv, what = "name"): DecodedName => {
  expectTag(name, TAG.SEQUENCE, what);
  const fields: SubjectFields = {};
  const others: NameAttribute[] = [];
  const attributes: NameAttribute[] = [];
  for (const rdn of children(buf, name, what)) {
    expectTag(rdn, TAG.SET, `${what} RDN`);
    const atvs = children(buf, rdn, what);
    if (atvs.length === 0) throw new DerError(`${what}: empty RDN`);
    for (const atv of atvs) {
      const [type, value, extra] = children(buf, expectTag(atv, TAG.SEQUENCE, `${what} attribute`), what);
      if (extra) throw new DerError(`${what}: malformed attribute`);
      const o = readOid(buf, type, `${what} attribute type`);
      const field = FIELD_BY_OID.get(o);
      const shortName = field ? SUBJECT_FIELDS[field].short : (OTHER_NAMES[o] ?? o);
      const v = readString(buf, value, `${what} ${shortName}`);
      const attr = { oid: o, shortName, value: v };
      attributes.push(attr);
      if (field && fields[field] === undefined) fields[field] = v;
      else others.push(attr);
    }
  }
  return { fields, others, attributes };
};

const escapeDn = (v: string): string => v.replace(/([,+"\\<>;=])/g, "\\$1").replace(/^([ #])/, "\\$1").replace(/ $/, "\\ ");

/** "CN=Demo Root CA, O=Acme, C=US" (api.md 7.2 `dn` and default `friendlyName`). */
export const formatDn = (s: SubjectFields): string =>
  DISPLAY_ORDER.filter((f) => s[f]).map((f) => `${SUBJECT_FIELDS[f].short}=${escapeDn(s[f]!)}`).join(", ");
