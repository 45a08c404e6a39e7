/**
 * Leaf issuance throughput of the PKI engine, EC P-256 CA and keys, in one process:
 *   our DER path (issueLeaf with a prepared IssuerContext, signing on the thread pool)
 *   vs @peculiar/x509's X509CertificateGenerator building the same certificate.
 * Both are driven closed-loop with the same concurrency; the ratio is what matters (target: DER ≥ 10×).
 * Run: node --import tsx bench/issue-engine.ts [seconds per run, default 3] [concurrency, default 32]
 * Not a test: prints figures, never fails on them.
 */
import { webcrypto } from "node:crypto";
import { performance } from "node:perf_hooks";
import { availableParallelism } from "node:os";
import { x509 } from "../src/crypto/x509.js";
import { exportPrivateKeyPem, generateKeyPair } from "../src/crypto/keys.js";
import { fromPem } from "../src/crypto/der/pem.js";
import { createRootCa } from "../src/core/pki/ca.js";
import { prepareIssuer } from "../src/core/pki/issuer.js";
import type { IssuerContext } from "../src/core/pki/issuer.js";
import { issueLeaf } from "../src/core/pki/issue.js";
import { encodeTbsCertificate } from "../src/core/pki/tbs.js";
import { randomSerial } from "../src/core/pki/serial.js";
import { encodeName } from "../src/core/pki/name.js";

const seconds = Number(process.argv[2] ?? 3);
const concurrency = Number(process.argv[3] ?? 32);
const DAY = 86_400_000;
const URLS = {
  crlDistributionPoints: ["https://kms.example/api/v1/pki/crl/4f6c1d2e-0000-4000-8000-000000000001/der"],
  caIssuers: ["https://kms.example/api/v1/pki/ca/4f6c1d2e-0000-4000-8000-000000000002/certificates/4f6c1d2e-0000-4000-8000-000000000003/der"],
};

const run = async (name: string, one: (i: number) => Promise<unknown>, workers: number): Promise<number> => {
  for (let i = 0; i < 50; i++) await one(i); // warm up JIT and caches
  let done = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        await one(next++);
        done++;
      }
    }),
  );
  const rate = done / ((performance.now() - start) / 1000);
  console.log(`${name.padEnd(52)} ${rate.toFixed(0).padStart(8)} certs/s  (${done} in ${seconds}s, ${workers} in flight)`);
  return rate;
};

const main = async (): Promise<void> => {
  console.log(`node ${process.version}, ${availableParallelism()} cores, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}`);
  const now = Date.now();
  const ca = await createRootCa({ subject: { commonName: "Bench CA", organization: "Acme", country: "US" }, keyAlgorithm: "EC_prime256v1", notBefore: now - DAY, notAfter: now + 3650 * DAY });
  const issuer: IssuerContext = prepareIssuer({ certificate: ca.certificate.der, privateKey: ca.keyPair.privateKey, urls: URLS });
  const leafKeys = await Promise.all(Array.from({ length: 16 }, () => generateKeyPair("EC_prime256v1")));

  const request = (i: number) => ({
    subject: { commonName: `svc-${i}.example.test` },
    sans: [{ type: "dns_name" as const, value: `svc-${i}.example.test` }, { type: "dns_name" as const, value: `svc-${i}.internal.example.test` }],
    keyUsages: ["digital_signature" as const, "key_encipherment" as const],
    extendedKeyUsages: ["server_auth" as const, "client_auth" as const],
    notBefore: now, notAfter: now + 90 * DAY, publicKey: leafKeys[i % leafKeys.length].spkiDer,
  });
  const ours = (i: number) => issueLeaf(issuer, request(i));

  // @peculiar/x509 baseline: the same certificate through its builder and WebCrypto signing.
  const caKey = await webcrypto.subtle.importKey("pkcs8", fromPem(exportPrivateKeyPem(ca.keyPair.privateKey), ["PRIVATE KEY"]).der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const caCert = new x509.X509Certificate(ca.certificate.der);
  const caKeyId = (await x509.SubjectKeyIdentifierExtension.create(caCert.publicKey)).keyId;
  const leafPublic = await Promise.all(leafKeys.map((k) => webcrypto.subtle.importKey("spki", k.spkiDer, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"])));
  const theirs = async (i: number) => {
    const publicKey = leafPublic[i % leafPublic.length];
    return x509.X509CertificateGenerator.create({
      serialNumber: randomSerial().toString("hex"),
      subject: `CN=svc-${i}.example.test`,
      issuer: caCert.subject,
      notBefore: new Date(now), notAfter: new Date(now + 90 * DAY),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      publicKey, signingKey: caKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        new x509.AuthorityKeyIdentifierExtension(caKeyId),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: `svc-${i}.example.test` }, { type: "dns", value: `svc-${i}.internal.example.test` }]),
        new x509.CRLDistributionPointsExtension(URLS.crlDistributionPoints),
        new x509.AuthorityInfoAccessExtension({ caIssuers: URLS.caIssuers }),
      ],
    });
  };

  // Sanity: both produce certificates that verify against the CA.
  for (const c of [new x509.X509Certificate((await ours(1)).der), await theirs(1)]) {
    if (!(await c.verify({ publicKey: caCert, signatureOnly: true }))) throw new Error("benchmark certificate does not verify");
  }

  // The encoder alone (no signature): what the DER path costs besides ECDSA.
  const tbsStart = performance.now();
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const r = request(i);
    encodeTbsCertificate({
      serial: randomSerial(), signatureAlgorithm: "ECDSA-SHA256", issuerDer: issuer.subjectDer, notBefore: r.notBefore, notAfter: r.notAfter,
      subjectDer: encodeName(r.subject), spkiDer: r.publicKey, extensions: issuer.issuedExtensions,
    });
  }
  console.log(`${"TBS encoding only (subject, validity, serial)".padEnd(52)} ${((performance.now() - tbsStart) * 1000 / n).toFixed(2).padStart(8)} µs each`);

  const oursSeq = await run("DER path (issueLeaf), sequential", ours, 1);
  const theirsSeq = await run("@peculiar/x509 builder, sequential", theirs, 1);
  const oursPar = await run("DER path (issueLeaf), concurrent", ours, concurrency);
  const theirsPar = await run("@peculiar/x509 builder, concurrent", theirs, concurrency);
  console.log(`ratio sequential: ${(oursSeq / theirsSeq).toFixed(1)}×   ratio concurrent: ${(oursPar / theirsPar).toFixed(1)}×   (target ≥ 10×)`);
};

await main();
