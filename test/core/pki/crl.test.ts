/** CRLs: openssl verifies the signature, reads the entries, and rejects a revoked leaf with -crl_check. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { x509 } from "../../../src/crypto/x509.js";
import { buildCrl } from "../../../src/core/pki/crl.js";
import { issueLeaf } from "../../../src/core/pki/issue.js";
import type { IssuedCertificate } from "../../../src/core/pki/issue.js";
import { REVOCATION_REASONS } from "../../../src/core/pki/algorithms.js";
import type { RevocationReason } from "../../../src/core/pki/algorithms.js";
import { DAY, makeChain, openssl, poolKey, tmp } from "./helpers.js";
import type { Chain } from "./helpers.js";

const t = tmp();
after(() => t.cleanup());
const now = Date.now();
let chain: Chain;
let good: IssuedCertificate;
let revoked: IssuedCertificate;
before(async () => {
  chain = await makeChain(now, { rootKey: "RSA_2048", intermediateKey: "EC_secp384r1" });
  const k = await poolKey("EC_prime256v1", 1);
  const mk = (cn: string) => issueLeaf(chain.intermediate, { subject: { commonName: cn }, sans: [{ type: "dns_name", value: cn }], keyUsages: ["digital_signature"], extendedKeyUsages: ["server_auth"], notBefore: now - 1000, notAfter: now + 30 * DAY, publicKey: k.spkiDer });
  good = await mk("good.example.test");
  revoked = await mk("revoked.example.test");
});

test("openssl verifies the CRL signature and reads number, AKI, entries and reasons", async () => {
  const crl = await buildCrl(chain.intermediate, {
    thisUpdate: now - 1000, nextUpdate: now + 7 * DAY, crlNumber: 42,
    revoked: [
      { serialNumber: revoked.serialNumber, revokedAt: now - 500, reason: "KEY_COMPROMISE" },
      { serialNumber: "0a0b", revokedAt: now - 400, reason: "UNSPECIFIED" },
      { serialNumber: "7F:01", revokedAt: now - 300 },
    ],
  });
  assert.match(crl.pem, /^-----BEGIN X509 CRL-----\n[\s\S]+-----END X509 CRL-----\n$/);
  const p = t.write("i.crl", crl.pem);
  const out = await openssl(["crl", "-in", p, "-noout", "-text", "-verify", "-CAfile", t.write("i.pem", chain.intermediatePem)]);
  assert.match(out.stderr + out.stdout, /verify OK/);
  assert.match(out.stdout, /Version 2 \(0x1\)/);
  assert.match(out.stdout, /X509v3 CRL Number: \n\s+42/);
  assert.match(out.stdout, /Signature Algorithm: ecdsa-with-SHA384/);
  assert.match(out.stdout, new RegExp(`Serial Number: ${revoked.serialNumber.toUpperCase()}\\n\\s+Revocation Date: .*\\n\\s+CRL entry extensions:\\n\\s+X509v3 CRL Reason Code: \\n\\s+Key Compromise`));
  assert.match(out.stdout, /Serial Number: 0A0B\n\s+Revocation Date: [^\n]+\n\s+Serial Number: 7F01/); // UNSPECIFIED: no reason extension
  const x = new x509.X509Crl(crl.der);
  assert.equal(x.entries.length, 3);
  assert.equal(x.thisUpdate.getTime(), Math.floor((now - 1000) / 1000) * 1000);
});

test("openssl verify -crl_check_all: the revoked leaf is revoked, the other is fine", async () => {
  const icrl = await buildCrl(chain.intermediate, { thisUpdate: now - 1000, nextUpdate: now + 7 * DAY, crlNumber: 2, revoked: [{ serialNumber: revoked.serialNumber, revokedAt: now - 500, reason: "SUPERSEDED" }] });
  const rcrl = await buildCrl(chain.root, { thisUpdate: now - 1000, nextUpdate: now + 7 * DAY, crlNumber: 1, revoked: [] });
  const crls = t.write("all.crl", icrl.pem + rcrl.pem);
  const args = ["verify", "-x509_strict", "-crl_check_all", "-CRLfile", crls, "-CAfile", t.write("r.pem", chain.rootPem), "-untrusted", t.write("c.pem", chain.intermediatePem)];
  const ok = await openssl([...args, t.write("good.pem", good.pem)]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const bad = await openssl([...args, t.write("revoked.pem", revoked.pem)]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout + bad.stderr, /certificate revoked/);
  // The root's empty CRL has no revokedCertificates field at all (RFC 5280 5.1.2.6).
  const asn = await openssl(["crl", "-in", t.write("root.crl", rcrl.pem), "-noout", "-text"]);
  assert.match(asn.stdout, /No Revoked Certificates/);
});

test("every api.md revocation reason maps to its RFC 5280 code and openssl names it", async () => {
  const reasons = Object.keys(REVOCATION_REASONS).filter((r) => r !== "UNSPECIFIED") as RevocationReason[];
  const crl = await buildCrl(chain.root, {
    thisUpdate: now, nextUpdate: now + DAY, crlNumber: 3,
    revoked: reasons.map((reason, i) => ({ serialNumber: (i + 1).toString(16).padStart(2, "0"), revokedAt: now, reason })),
  });
  const out = await openssl(["crl", "-in", t.write("reasons.crl", crl.pem), "-noout", "-text"]);
  for (const name of ["Key Compromise", "CA Compromise", "Affiliation Changed", "Superseded", "Cessation Of Operation", "Certificate Hold", "Privilege Withdrawn", "AA Compromise"]) {
    assert.match(out.stdout, new RegExp(name));
  }
});

test("refusals: nextUpdate not after thisUpdate, a bad serial", async () => {
  await assert.rejects(buildCrl(chain.root, { thisUpdate: now, nextUpdate: now, crlNumber: 1, revoked: [] }), /nextUpdate: must be after thisUpdate/);
  await assert.rejects(buildCrl(chain.root, { thisUpdate: now, nextUpdate: now + DAY, crlNumber: 1, revoked: [{ serialNumber: "xyz", revokedAt: now }] }), /revoked\[0\]\.serialNumber: "xyz" is not a hex serial/);
});
