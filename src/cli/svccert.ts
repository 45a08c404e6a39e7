import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { createKmsClient } from "../client/kms-client.js";
import type { ServiceCertificate } from "../client/kms-client.js";
import { parseDuration } from "../config/duration.js";
import { writeFileAtomic } from "../agent/files.js";
import { isFile } from "../agent/auth/workload-common.js";
import { checkKeyPair } from "../agent/auth/tls-cert.js";
import { serviceNames } from "../core/identity/service-key-names.js";
import { buildServiceCsr, loadServiceKey, mintServiceJwt } from "../core/identity/service-key-client.js";

/**
 * `kms svccert`: one service identity certificate, zts-svccert style (seed 004). Three ways to prove who asks:
 *   key pair        a JWT signed by --private-key under --key-version (the public key registered on the identity)
 *   register token  --instance-register-token (once) for --instance, no registered key needed
 *   --refresh       mTLS with the certificate in --cert-file and its key: renews the same identity and names
 * The CSR is built from --private-key: DNS <identity>.<project>.<dns-domain>, URI spiffe://<trust-domain>/ns/<project>/sa/<identity>.
 */

const fail = (message: string): never => {
  process.stderr.write(`kms svccert: ${message}\n`);
  process.exit(1);
};

const readText = (path: string, flag: string): string => {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    return fail(`${flag}: cannot read ${JSON.stringify(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
};

export const svccertCommand = (): Command =>
  new Command("svccert")
    .description("obtain or refresh a service identity certificate (zts-svccert style): key-pair JWT, instance register token, or mTLS refresh")
    .addOption(new Option("--address <url>", "KMS server address").env("KMS_ADDRESS").makeOptionMandatory())
    .requiredOption("--project <slug>", "project slug (the <project> in the certificate names)")
    .requiredOption("--identity <id-or-name>", "service identity: its id, or its name when that is a DNS label")
    .requiredOption("--private-key <file>", "the service's private key (PEM); the CSR and the JWT are signed with it")
    .option("--key-version <version>", "key version the public key was registered under (the JWT kid)", "0")
    .requiredOption("--dns-domain <domain>", "DNS domain of the service name: <identity>.<project>.<dns-domain>")
    .option("--trust-domain <domain>", "SPIFFE trust domain (default: --dns-domain)")
    .option("--profile <slug-or-id>", "certificate profile; must be the one on the identity's service-key settings")
    .requiredOption("--cert-file <file>", "where the certificate is written (and, with --refresh, the certificate presented)")
    .option("--ca-cert-file <file>", "where the issuing CA chain is written")
    .option("--expiry <duration>", "certificate lifetime, e.g. 24h or 30d (default: the profile's)")
    .option("--instance-register-token <token-or-file>", "one-time instance register token (value or file) instead of the key-pair JWT")
    .option("--instance <id>", "instance id the register token is bound to")
    .option("--refresh", "renew over mTLS with the certificate in --cert-file and --private-key (needs an HTTPS server with --tls-request-client-cert)")
    .option("--server-ca-file <file>", "CA bundle that signed the KMS server's TLS certificate")
    .action(async (o) => {
      if (o.expiry) {
        try {
          if (parseDuration(o.expiry) <= 0) fail(`--expiry: "${o.expiry}" must be positive`);
        } catch (e) {
          fail(`--expiry: ${(e as Error).message}`);
        }
      }
      if (o.instanceRegisterToken && !o.instance) fail("--instance-register-token needs --instance <id>");
      if (o.instance && !o.instanceRegisterToken) fail("--instance only applies with --instance-register-token (the key-pair and --refresh flows have no instance)");
      if (o.refresh && o.instanceRegisterToken) fail("--refresh and --instance-register-token are different flows; give one");
      const keyPem = readText(o.privateKey, "--private-key");
      let key;
      try {
        key = loadServiceKey(keyPem);
      } catch (e) {
        fail(`--private-key: ${(e as Error).message}`);
      }
      let names;
      try {
        names = serviceNames({ identity: o.identity, project: o.project, dnsDomain: o.dnsDomain, trustDomain: o.trustDomain });
      } catch (e) {
        fail((e as Error).message);
      }
      const serverCa = o.serverCaFile ? readText(o.serverCaFile, "--server-ca-file") : undefined;
      const client = createKmsClient({ address: o.address, userAgent: "kms-svccert", ...(serverCa ? { tls: { ca: serverCa } } : {}) });
      const csr = await buildServiceCsr(key!, names!);
      const common = { csr, ...(o.expiry ? { ttl: o.expiry } : {}) };
      let issued: ServiceCertificate;
      try {
        if (o.refresh) {
          const cert = readText(o.certFile, "--cert-file");
          try {
            checkKeyPair(cert, keyPem, { certificate: "--cert-file", privateKey: "--private-key", certPath: o.certFile, keyPath: o.privateKey });
          } catch (e) {
            fail((e as Error).message);
          }
          issued = await client.refreshServiceCertificate({ ...common, project: o.project }, { cert, key: keyPem, ...(serverCa ? { ca: serverCa } : {}) });
        } else if (o.instanceRegisterToken) {
          const token = isFile(o.instanceRegisterToken) ? readText(o.instanceRegisterToken, "--instance-register-token").trim() : o.instanceRegisterToken;
          issued = await client.registerInstance({ ...common, token, instanceId: o.instance, ...(o.profile ? { profile: o.profile } : {}) });
        } else {
          const jwt = await mintServiceJwt(key!, { identity: o.identity, project: o.project, keyVersion: o.keyVersion, audience: o.address, nowMs: Date.now() });
          issued = await client.serviceKeyCertificate({ ...common, jwt, ...(o.profile ? { profile: o.profile } : {}) });
        }
      } catch (e) {
        fail((e as Error).message);
      } finally {
        await client.close();
      }
      // The certificate is public; 0644 so the service's other users (a proxy, a sidecar) can read it.
      await writeFileAtomic(o.certFile, issued!.certificate.trim() + "\n", { mode: 0o644 });
      if (o.caCertFile) await writeFileAtomic(o.caCertFile, (issued!.certificateChain || issued!.issuingCaCertificate).trim() + "\n", { mode: 0o644 });
      process.stdout.write(`${o.refresh ? "renewed" : "issued"} ${names!.dnsName} (serial ${issued!.serialNumber}) to ${o.certFile}\n`);
    });
