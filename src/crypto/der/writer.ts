/**
 * A small DER writer for the certificate hot path. Every function returns the complete TLV as a Buffer;
 * constructed values take their children as an array and allocate once (header + content), so building a
 * TBSCertificate is a handful of copies of a few hundred bytes. Only low tag numbers (< 31) are needed for
 * X.509, CRLs, CSRs and OCSP, so multi-byte tags are not supported.
 */
import { encodeOid } from "./oid.js";

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  UNIVERSAL_STRING: 0x1c,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const headerLength = (len: number): number => (len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : len < 0x1000000 ? 5 : 6);

const writeHeader = (out: Buffer, tag: number, len: number): number => {
  out[0] = tag;
  if (len < 0x80) {
    out[1] = len;
    return 2;
  }
  let n = 0;
  for (let v = len; v > 0; v = Math.floor(v / 256)) n++;
  out[1] = 0x80 | n;
  for (let i = n, v = len; i >= 1; i--, v = Math.floor(v / 256)) out[1 + i] = v & 0xff;
  return 2 + n;
};

/** A TLV whose content is one buffer. */
export const tlv = (tag: number, content: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(headerLength(content.length) + content.length);
  out.set(content, writeHeader(out, tag, content.length));
  return out;
};

/** A TLV whose content is the concatenation of already-encoded parts (SEQUENCE, SET, context tags). */
export const tlvOf = (tag: number, parts: readonly Uint8Array[]): Buffer => {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(headerLength(len) + len);
  let off = writeHeader(out, tag, len);
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};

export const sequence = (parts: readonly Uint8Array[]): Buffer => tlvOf(TAG.SEQUENCE, parts);

/** SET OF: DER requires the encodings sorted as octet strings (X.690 11.6). */
export const setOf = (parts: readonly Uint8Array[]): Buffer => tlvOf(TAG.SET, [...parts].sort(Buffer.compare));

/** A SET with one member (an RDN), where no sorting is needed. */
export const set = (parts: readonly Uint8Array[]): Buffer => (parts.length > 1 ? setOf(parts) : tlvOf(TAG.SET, parts));

export const NULL = Buffer.from([TAG.NULL, 0x00]);
export const TRUE = Buffer.from([TAG.BOOLEAN, 0x01, 0xff]);
export const FALSE = Buffer.from([TAG.BOOLEAN, 0x01, 0x00]);
export const boolean = (b: boolean): Buffer => (b ? TRUE : FALSE);

/**
 * INTEGER from an unsigned big-endian magnitude: leading zero bytes are stripped (DER minimal form)
 * and a 0x00 is prepended when the top bit is set, so the value stays positive.
 */
export const integerFromUnsigned = (magnitude: Uint8Array): Buffer => {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.length === 0) return Buffer.from([TAG.INTEGER, 1, 0]);
  return m[0] & 0x80 ? tlvOf(TAG.INTEGER, [ZERO_BYTE, m]) : tlv(TAG.INTEGER, m);
};
const ZERO_BYTE = Buffer.from([0]);

/** INTEGER from a JS number or bigint (two's complement, minimal). */
export const integer = (value: number | bigint): Buffer => {
  let v = BigInt(value);
  const bytes: number[] = [];
  if (v >= 0n) {
    do {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    if (bytes[0] & 0x80) bytes.unshift(0);
  } else {
    do {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v < -1n);
    if (!(bytes[0] & 0x80)) bytes.unshift(0xff);
  }
  return tlv(TAG.INTEGER, Buffer.from(bytes));
};

export const enumerated = (value: number): Buffer => {
  const i = integer(value);
  i[0] = TAG.ENUMERATED;
  return i;
};

/** BIT STRING with whole bytes (keys, signatures): the unused-bits octet is 0. */
export const bitString = (bytes: Uint8Array, unusedBits = 0): Buffer => tlvOf(TAG.BIT_STRING, [Buffer.from([unusedBits]), bytes]);

/**
 * Named-bit BIT STRING (KeyUsage, ReasonFlags): bit 0 is the most significant bit of the first octet and
 * DER drops trailing zero bits (X.690 11.2.2), so the length and unused-bit count depend on the highest bit set.
 */
export const namedBitString = (bits: readonly number[]): Buffer => {
  const max = bits.length ? Math.max(...bits) : -1;
  if (max < 0) return Buffer.from([TAG.BIT_STRING, 1, 0]);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3] |= 0x80 >> (b & 7);
  const last = bytes[bytes.length - 1];
  let unused = 0;
  while (unused < 7 && !(last & (1 << unused))) unused++;
  return bitString(bytes, unused);
};

export const octetString = (bytes: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, bytes);

const oidCache = new Map<string, Buffer>();
/** OBJECT IDENTIFIER from dotted form; encodings are cached because the same few dozen OIDs recur. */
export const oid = (dotted: string): Buffer => {
  let b = oidCache.get(dotted);
  if (!b) {
    b = tlv(TAG.OID, encodeOid(dotted));
    oidCache.set(dotted, b);
  }
  return b;
};

export const utf8String = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, "utf8"));

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
export const isPrintableString = (s: string): boolean => PRINTABLE.test(s);
export const printableString = (s: string): Buffer => {
  if (!PRINTABLE.test(s)) throw new RangeError(`not a PrintableString: ${JSON.stringify(s)}`);
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(s, "latin1"));
};

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
export const isIa5String = (s: string): boolean => ASCII.test(s);
export const ia5String = (s: string): Buffer => {
  if (!ASCII.test(s)) throw new RangeError(`not an IA5String (ASCII only): ${JSON.stringify(s)}`);
  return tlv(TAG.IA5_STRING, Buffer.from(s, "latin1"));
};

/** [n] EXPLICIT: a constructed context tag wrapping complete TLVs. */
export const explicit = (n: number, parts: readonly Uint8Array[]): Buffer => tlvOf(0xa0 | n, parts);
/** [n] IMPLICIT on a primitive type: the content of the original TLV under a context tag. */
export const implicitPrimitive = (n: number, content: Uint8Array): Buffer => tlv(0x80 | n, content);
/** [n] IMPLICIT on a constructed type (SEQUENCE, SET): children under a constructed context tag. */
export const implicitConstructed = (n: number, parts: readonly Uint8Array[]): Buffer => tlvOf(0xa0 | n, parts);
