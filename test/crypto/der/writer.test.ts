/** DER encodings checked against X.690 examples and against asn1js (an independent decoder). */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import {
  TAG, bitString, ia5String, integer, integerFromUnsigned, namedBitString, oid, printableString, sequence, setOf, tlv, utf8String, explicit, implicitPrimitive, enumerated, boolean, NULL,
} from "../../../src/crypto/der/writer.js";
import { generalizedTime, utcTime, x509Time } from "../../../src/crypto/der/time.js";

const hex = (b: Buffer) => b.toString("hex");

const table: { name: string; got: () => Buffer; want: string }[] = [
  { name: "short length", got: () => tlv(TAG.OCTET_STRING, Buffer.alloc(3, 0xaa)), want: "0403aaaaaa" },
  { name: "length 127 stays short", got: () => tlv(TAG.OCTET_STRING, Buffer.alloc(127)).subarray(0, 2), want: "047f" },
  { name: "length 128 is long form 81", got: () => tlv(TAG.OCTET_STRING, Buffer.alloc(128)).subarray(0, 3), want: "048180" },
  { name: "length 256 is long form 82", got: () => tlv(TAG.OCTET_STRING, Buffer.alloc(256)).subarray(0, 4), want: "04820100" },
  { name: "length 70000 is long form 83", got: () => tlv(TAG.OCTET_STRING, Buffer.alloc(70000)).subarray(0, 5), want: "0483011170" },
  { name: "integer 0", got: () => integer(0), want: "020100" },
  { name: "integer 127", got: () => integer(127), want: "02017f" },
  { name: "integer 128 needs a pad", got: () => integer(128), want: "02020080" },
  { name: "integer 256", got: () => integer(256), want: "02020100" },
  { name: "integer -1", got: () => integer(-1), want: "0201ff" },
  { name: "integer -128", got: () => integer(-128), want: "020180" },
  { name: "integer -129", got: () => integer(-129), want: "0202ff7f" },
  { name: "unsigned with top bit gets a 00", got: () => integerFromUnsigned(Buffer.from([0x80, 0x01])), want: "0203008001" },
  { name: "unsigned strips leading zeros", got: () => integerFromUnsigned(Buffer.from([0, 0, 0x12])), want: "020112" },
  { name: "unsigned zero", got: () => integerFromUnsigned(Buffer.from([0, 0])), want: "020100" },
  { name: "enumerated", got: () => enumerated(6), want: "0a0106" },
  { name: "boolean", got: () => Buffer.concat([boolean(true), boolean(false)]), want: "0101ff010100" },
  { name: "null", got: () => NULL, want: "0500" },
  { name: "OID sha256WithRSAEncryption", got: () => oid("1.2.840.113549.1.1.11"), want: "06092a864886f70d01010b" },
  { name: "OID 2.5.29.19", got: () => oid("2.5.29.19"), want: "0603551d13" },
  { name: "OID with a large first arc under 2", got: () => oid("2.999.3"), want: "0603883703" },
  { name: "bit string", got: () => bitString(Buffer.from([0xde, 0xad])), want: "030300dead" },
  { name: "named bits: digitalSignature", got: () => namedBitString([0]), want: "03020780" },
  { name: "named bits: digitalSignature+keyEncipherment", got: () => namedBitString([0, 2]), want: "030205a0" },
  { name: "named bits: keyCertSign+cRLSign", got: () => namedBitString([5, 6]), want: "03020106" },
  { name: "named bits: decipherOnly spans two octets", got: () => namedBitString([0, 8]), want: "0303078080" },
  { name: "named bits: none", got: () => namedBitString([]), want: "030100" },
  { name: "utf8", got: () => utf8String("Zürich"), want: "0c075ac3bc72696368" },
  { name: "printable", got: () => printableString("US"), want: "13025553" },
  { name: "ia5", got: () => ia5String("a@b"), want: "1603614062" },
  { name: "set of sorts members", got: () => setOf([Buffer.from("0201ff", "hex"), Buffer.from("020101", "hex")]), want: "3106020101" + "0201ff" },
  { name: "explicit [3]", got: () => explicit(3, [integer(1)]), want: "a303020101" },
  { name: "implicit [2] primitive", got: () => implicitPrimitive(2, Buffer.from("a.b")), want: "8203612e62" },
  { name: "UTCTime", got: () => utcTime(Date.UTC(2026, 0, 2, 3, 4, 5, 999)), want: Buffer.from("170d3236303130323033303430355a", "hex").toString("hex") },
  { name: "GeneralizedTime", got: () => generalizedTime(Date.UTC(2050, 0, 1)), want: "180f32303530303130313030303030305a" },
  { name: "x509Time: 2049-12-31T23:59:59Z is UTCTime", got: () => x509Time(Date.UTC(2049, 11, 31, 23, 59, 59)), want: "170d3439313233313233353935395a" },
  { name: "x509Time: 2050-01-01 is GeneralizedTime", got: () => x509Time(Date.UTC(2050, 0, 1)).subarray(0, 1), want: "18" },
];
for (const c of table) test(c.name, () => assert.equal(hex(c.got()), c.want));

test("refusals: non-printable PrintableString, non-ASCII IA5String, bad OIDs, UTCTime out of range", () => {
  assert.throws(() => printableString("a@b"), /not a PrintableString/);
  assert.throws(() => ia5String("é"), /not an IA5String/);
  assert.throws(() => oid("1"), /invalid OID/);
  assert.throws(() => oid("3.1"), /invalid OID/);
  assert.throws(() => oid("1.40"), /invalid OID/);
  assert.throws(() => oid("1.2.x"), /invalid OID/);
  assert.throws(() => utcTime(Date.UTC(2050, 0, 1)), /UTCTime cannot hold year 2050/);
});

test("asn1js decodes a nested structure we wrote, value for value", () => {
  const der = sequence([integer(123456789), oid("1.3.6.1.5.5.7.3.1"), utf8String("héllo"), explicit(0, [sequence([bitString(Buffer.from([1, 2, 3]))])]), utcTime(Date.UTC(2030, 5, 6, 7, 8, 9))]);
  const { result, offset } = asn1js.fromBER(der);
  assert.notEqual(offset, -1);
  const seq = result as asn1js.Sequence;
  const [i, o, s, e, tm] = seq.valueBlock.value;
  assert.equal((i as asn1js.Integer).toBigInt(), 123456789n);
  assert.equal((o as asn1js.ObjectIdentifier).valueBlock.toString(), "1.3.6.1.5.5.7.3.1");
  assert.equal((s as asn1js.Utf8String).valueBlock.value, "héllo");
  assert.equal(e.idBlock.tagClass, 3);
  assert.equal(e.idBlock.tagNumber, 0);
  assert.equal((tm as asn1js.UTCTime).toDate().toISOString(), "2030-06-06T07:08:09.000Z");
  assert.equal(Buffer.from(result.toBER()).toString("hex"), der.toString("hex"));
});
