import { test } from "node:test";
import assert from "node:assert/strict";
import { opensslOk, scratch } from "../../helpers/openssl.js";
import { certificateIdOf, parseCertificateId, suggestedWindow } from "../../../src/core/acme/ari.js";

// RFC 9773 4.1 example: AKI 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 00:87:65:43:21.
const RFC_ID = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";

test("the RFC 9773 example certificate ID parses to its key identifier and serial", () => {
  const { keyId, serialHex } = parseCertificateId(RFC_ID);
  assert.equal(keyId.toString("hex"), "69885b6b87464041e1b37b847ba0ae2cde01c8d4");
  assert.equal(serialHex, "87654321");
});

test("certificateIdOf builds the same ID from a certificate with that serial (0x00 pad kept)", () => {
  const d = scratch("kms-ari-");
  opensslOk("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=ARI CA", "-days", "1", "-keyout", d.path("ca.key"), "-out", d.path("ca.pem"));
  opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=leaf", "-keyout", d.path("leaf.key"), "-out", d.path("leaf.csr"));
  opensslOk("x509", "-req", "-in", d.path("leaf.csr"), "-CA", d.path("ca.pem"), "-CAkey", d.path("ca.key"), "-set_serial", "0x87654321", "-days", "1",
    "-extfile", d.write("ext", "authorityKeyIdentifier=keyid\n"), "-out", d.path("leaf.pem"));
  const aki = opensslOk("x509", "-in", d.path("leaf.pem"), "-noout", "-ext", "authorityKeyIdentifier").split("\n")[1]!.trim().replace(/^keyid:/, "").replace(/:/g, "");
  const id = certificateIdOf(opensslOk("x509", "-in", d.path("leaf.pem")));
  assert.equal(id, `${Buffer.from(aki, "hex").toString("base64url")}.AIdlQyE`);
});

test("malformed certificate IDs are refused", () => {
  for (const bad of ["", "abc", "a.b.c", "a b.c"]) assert.throws(() => parseCertificateId(bad), /not a certificate ID/);
});

const DAY = 86_400_000;
const windows: { name: string; nb: number; na: number; status: string; start: number; end: number }[] = [
  { name: "90 days: days 60 to 67.5", nb: 0, na: 90 * DAY, status: "active", start: 60 * DAY, end: 67.5 * DAY },
  { name: "1 day: hours 16 to 18", nb: 0, na: DAY, status: "active", start: (16 / 24) * DAY, end: (18 / 24) * DAY },
  { name: "revoked: already begun", nb: 0, na: 90 * DAY, status: "revoked", start: 10 * DAY - 3_600_000, end: 10 * DAY - 60_000 },
];
for (const w of windows)
  test(`suggested window, ${w.name}`, () => {
    const got = suggestedWindow({ not_before: new Date(w.nb).toISOString(), not_after: new Date(w.na).toISOString(), status: w.status }, 10 * DAY);
    assert.deepEqual(got, { start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() });
  });
