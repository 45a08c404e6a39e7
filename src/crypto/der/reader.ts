/**
 * A minimal DER reader: walks TLVs in place (no copies) and decodes the few primitive types X.509, CSRs,
 * CRLs and OCSP requests use. Strict where laxness would hide an attack (indefinite lengths, lengths past the
 * end, non-minimal lengths); every failure is a DerError naming what was being read.
 */
import { decodeOid } from "./oid.js";
import { parseTime } from "./time.js";
import { TAG } from "./writer.js";

export class DerError extends Error {
  override readonly name = "DerError";
}

/** One TLV inside `buf`: `buf[start..end)` is the whole encoding, `buf[contentStart..end)` the value. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

export const isConstructed = (t: Tlv): boolean => (t.tag & 0x20) !== 0;

export const readTlv = (buf: Uint8Array, offset: number, limit = buf.length, what = "value"): Tlv => {
  if (offset + 2 > limit) throw new DerError(`${what}: truncated`);
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError(`${what}: multi-byte tags are not supported`);
  let len = buf[offset + 1];
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError(`${what}: indefinite length is not DER`);
    if (n > 4) throw new DerError(`${what}: length too large`);
    if (p + n > limit) throw new DerError(`${what}: truncated length`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    if (len < 0x80 || (n > 1 && buf[p] === 0)) throw new DerError(`${what}: non-minimal length`);
    p += n;
  }
  if (p + len > limit) throw new DerError(`${what}: length ${len} runs past the end`);
  return { tag, start: offset, contentStart: p, end: p + len };
};

/** The single top-level TLV of `buf`; trailing bytes are an error. */
export const readRoot = (buf: Uint8Array, what = "value"): Tlv => {
  const t = readTlv(buf, 0, buf.length, what);
  if (t.end !== buf.length) throw new DerError(`${what}: ${buf.length - t.end} trailing bytes`);
  return t;
};

export const children = (buf: Uint8Array, parent: Tlv, what = "value"): Tlv[] => {
  if (!isConstructed(parent)) throw new DerError(`${what}: expected a constructed value`);
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const t = readTlv(buf, p, parent.end, what);
    out.push(t);
    p = t.end;
  }
  return out;
};

export const expectTag = (t: Tlv | undefined, tag: number, what: string): Tlv => {
  if (!t) throw new DerError(`${what}: missing`);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
};

export const contentOf = (buf: Uint8Array, t: Tlv): Buffer => Buffer.from(buf.buffer, buf.byteOffset + t.contentStart, t.end - t.contentStart);
export const bytesOf = (buf: Uint8Array, t: Tlv): Buffer => Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);

export const readOid = (buf: Uint8Array, t: Tlv | undefined, what: string): string => {
  const c = contentOf(buf, expectTag(t, TAG.OID, what));
  try {
    return decodeOid(c);
  } catch (e) {
    throw new DerError(`${what}: ${(e as Error).message}`);
  }
};

/** INTEGER content as a signed bigint. */
export const readInteger = (buf: Uint8Array, t: Tlv | undefined, what: string, tag: number = TAG.INTEGER): bigint => {
  const c = contentOf(buf, expectTag(t, tag, what));
  if (c.length === 0) throw new DerError(`${what}: empty INTEGER`);
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  if (c[0] & 0x80) v -= 1n << BigInt(c.length * 8);
  return v;
};

export const readSmallInteger = (buf: Uint8Array, t: Tlv | undefined, what: string, tag: number = TAG.INTEGER): number =>
  Number(readInteger(buf, t, what, tag));

/**
 * A serial number as lowercase hex of its magnitude, without the sign-padding 0x00: the form we store and
 * show (`serialNumber`), and the form OCSP lookups compare.
 */
export const readSerialHex = (buf: Uint8Array, t: Tlv | undefined, what: string): string => {
  const c = contentOf(buf, expectTag(t, TAG.INTEGER, what));
  if (c.length === 0) throw new DerError(`${what}: empty INTEGER`);
  let i = 0;
  while (i < c.length - 1 && c[i] === 0) i++;
  return c.subarray(i).toString("hex");
};

export const readBoolean = (buf: Uint8Array, t: Tlv | undefined, what: string): boolean => {
  const c = contentOf(buf, expectTag(t, TAG.BOOLEAN, what));
  if (c.length !== 1) throw new DerError(`${what}: malformed BOOLEAN`);
  return c[0] !== 0;
};

/** BIT STRING content without the unused-bits octet; `unused` tells how many trailing bits to ignore. */
export const readBitString = (buf: Uint8Array, t: Tlv | undefined, what: string): { bytes: Buffer; unused: number } => {
  const c = contentOf(buf, expectTag(t, TAG.BIT_STRING, what));
  if (c.length === 0 || c[0] > 7 || (c.length === 1 && c[0] !== 0)) throw new DerError(`${what}: malformed BIT STRING`);
  return { bytes: c.subarray(1), unused: c[0] };
};

/** Indices of the set bits of a named-bit BIT STRING (KeyUsage): bit 0 = MSB of the first octet. */
export const readNamedBits = (buf: Uint8Array, t: Tlv | undefined, what: string): number[] => {
  const { bytes, unused } = readBitString(buf, t, what);
  const out: number[] = [];
  const total = bytes.length * 8 - unused;
  for (let i = 0; i < total; i++) if (bytes[i >> 3] & (0x80 >> (i & 7))) out.push(i);
  return out;
};

export const readOctetString = (buf: Uint8Array, t: Tlv | undefined, what: string): Buffer =>
  contentOf(buf, expectTag(t, TAG.OCTET_STRING, what));

const STRING_TAGS = new Set<number>([TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.IA5_STRING, TAG.T61_STRING, TAG.BMP_STRING, TAG.UNIVERSAL_STRING, 0x1a /* VisibleString */, 0x12 /* NumericString */]);

/** A DirectoryString / IA5String / PrintableString value as a JS string. */
export const readString = (buf: Uint8Array, t: Tlv | undefined, what: string): string => {
  if (!t) throw new DerError(`${what}: missing`);
  if (!STRING_TAGS.has(t.tag)) throw new DerError(`${what}: expected a string, found tag 0x${t.tag.toString(16)}`);
  const c = contentOf(buf, t);
  if (t.tag === TAG.BMP_STRING) {
    if (c.length % 2) throw new DerError(`${what}: malformed BMPString`);
    return Buffer.from(c).swap16().toString("utf16le");
  }
  if (t.tag === TAG.UNIVERSAL_STRING) {
    if (c.length % 4) throw new DerError(`${what}: malformed UniversalString`);
    let s = "";
    for (let i = 0; i < c.length; i += 4) s += String.fromCodePoint(c.readUInt32BE(i));
    return s;
  }
  if (t.tag === TAG.UTF8_STRING) {
    const s = c.toString("utf8");
    if (Buffer.byteLength(s, "utf8") !== c.length || s.includes("\ufffd")) throw new DerError(`${what}: invalid UTF-8`);
    return s;
  }
  return c.toString("latin1");
};

export const readTime = (buf: Uint8Array, t: Tlv | undefined, what: string): Date => {
  if (!t) throw new DerError(`${what}: missing`);
  try {
    return parseTime(t.tag, contentOf(buf, t).toString("latin1"));
  } catch (e) {
    throw new DerError(`${what}: ${(e as Error).message}`);
  }
};
