/** The DER reader: round trips through the writer, strictness, primitive decoders. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DerError, bytesOf, children, readBitString, readBoolean, readInteger, readNamedBits, readOid, readRoot, readSerialHex, readString, readTime, readTlv,
} from "../../../src/crypto/der/reader.js";
import { TAG, bitString, boolean, integer, integerFromUnsigned, namedBitString, oid, printableString, sequence, tlv, utf8String, ia5String } from "../../../src/crypto/der/writer.js";
import { generalizedTime, utcTime } from "../../../src/crypto/der/time.js";
import { decodeOid, encodeOid } from "../../../src/crypto/der/oid.js";
import { fromPem, fromPemAll, toPem } from "../../../src/crypto/der/pem.js";

test("round trip of a sequence of primitives", () => {
  const der = sequence([integer(-129), integer(2n ** 70n), oid("1.2.840.10045.3.1.7"), boolean(true), utf8String("ä"), printableString("DE"), ia5String("x"), namedBitString([0, 5, 6]), bitString(Buffer.from([9])), utcTime(Date.UTC(2031, 1, 2)), generalizedTime(Date.UTC(2051, 1, 2))]);
  const f = children(der, readRoot(der));
  assert.equal(readInteger(der, f[0], "i"), -129n);
  assert.equal(readInteger(der, f[1], "i"), 2n ** 70n);
  assert.equal(readOid(der, f[2], "o"), "1.2.840.10045.3.1.7");
  assert.equal(readBoolean(der, f[3], "b"), true);
  assert.equal(readString(der, f[4], "s"), "ä");
  assert.equal(readString(der, f[5], "s"), "DE");
  assert.equal(readString(der, f[6], "s"), "x");
  assert.deepEqual(readNamedBits(der, f[7], "ku"), [0, 5, 6]);
  assert.deepEqual(readBitString(der, f[8], "bits").bytes, Buffer.from([9]));
  assert.equal(readTime(der, f[9], "t").toISOString(), "2031-02-02T00:00:00.000Z");
  assert.equal(readTime(der, f[10], "t").toISOString(), "2051-02-02T00:00:00.000Z");
  assert.deepEqual(bytesOf(der, f[2]), oid("1.2.840.10045.3.1.7"));
});

test("serial hex drops the sign pad and keeps the magnitude", () => {
  const der = integerFromUnsigned(Buffer.from("80aabb", "hex"));
  assert.equal(readSerialHex(der, readRoot(der), "serial"), "80aabb");
});

test("OID arcs round trip, including big arcs", () => {
  for (const o of ["0.0", "1.2.840.113549.1.9.14", "2.5.29.37", "1.3.6.1.4.1.311.20.2.3", "2.25.329800735698586629295641978511506172918"]) {
    assert.equal(decodeOid(encodeOid(o)), o);
  }
});

const strict: { name: string; der: number[]; error: RegExp }[] = [
  { name: "indefinite length", der: [0x30, 0x80, 0, 0], error: /indefinite length/ },
  { name: "length past the end", der: [0x04, 0x05, 1, 2], error: /runs past the end/ },
  { name: "non-minimal long length", der: [0x04, 0x81, 0x05, 1, 2, 3, 4, 5], error: /non-minimal length/ },
  { name: "leading zero in a long length", der: [0x04, 0x82, 0x00, 0x80], error: /non-minimal length/ },
  { name: "multi-byte tag", der: [0x1f, 0x81, 0x00, 0x00], error: /multi-byte tags/ },
  { name: "truncated header", der: [0x30], error: /truncated/ },
];
for (const c of strict) {
  test(`strict: ${c.name}`, () => assert.throws(() => readTlv(Buffer.from(c.der), 0), (e: unknown) => e instanceof DerError && c.error.test((e as Error).message)));
}

test("strict: trailing bytes after the root, wrong tags, malformed values", () => {
  assert.throws(() => readRoot(Buffer.from([0x05, 0x00, 0x00])), /1 trailing bytes/);
  const i = integer(5);
  assert.throws(() => readOid(i, readRoot(i), "alg"), /alg: expected tag 0x6, found 0x2/);
  const badBits = tlv(TAG.BIT_STRING, Buffer.from([8, 0]));
  assert.throws(() => readBitString(badBits, readRoot(badBits), "ku"), /malformed BIT STRING/);
  const badTime = tlv(TAG.UTC_TIME, Buffer.from("2601010000Z"));
  assert.doesNotThrow(() => readTime(badTime, readRoot(badTime), "t")); // seconds are optional in BER UTCTime
  const junkTime = tlv(TAG.UTC_TIME, Buffer.from("yesterday"));
  assert.throws(() => readTime(junkTime, readRoot(junkTime), "notAfter"), /notAfter: malformed time/);
  const badUtf8 = tlv(TAG.UTF8_STRING, Buffer.from([0xc3]));
  assert.throws(() => readString(badUtf8, readRoot(badUtf8), "cn"), /cn: invalid UTF-8/);
});

test("PEM: 64-column armour, several blocks, labels", () => {
  const der = Buffer.alloc(100, 7);
  const pem = toPem("X509 CRL", der);
  assert.match(pem, /^-----BEGIN X509 CRL-----\n(?:[A-Za-z0-9+/]{64}\n)+[A-Za-z0-9+/=]{1,64}\n-----END X509 CRL-----\n$/);
  const both = toPem("CERTIFICATE", Buffer.from([1])) + "junk\n" + pem;
  assert.deepEqual(fromPemAll(both).map((b) => b.label), ["CERTIFICATE", "X509 CRL"]);
  assert.deepEqual(fromPem(both, ["X509 CRL"]).der, der);
  assert.throws(() => fromPem(both, ["PRIVATE KEY"]), /no PEM block labelled PRIVATE KEY/);
});
