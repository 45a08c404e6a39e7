import "reflect-metadata";
import { randomBytes, randomUUID, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { apiErrorFor, KmsNetworkError } from "../../../src/client/errors.js";
import type { KmsClient } from "../../../src/client/kms-client.js";
import type { IssueCertificateRequest } from "../../../src/client/types.js";

/**
 * A fake of OUR client interface (not of the server): unit tests of the certificate lifecycle run in
 * virtual time against it. It signs real certificates with a throwaway CA, so every check the agent
 * makes (parsing, key match, chain) is exercised. End-to-end tests use the real server.
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

const pem = (label: string, der: ArrayBuffer) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;

export interface FakeKmsOptions {
  now: () => number;
  /** Lifetime of issued certificates when the request has no ttl. */
  defaultTtlMs?: number;
}

export const createFakeKms = async (opts: FakeKmsOptions) => {
  const caKeys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = opts.now;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=Fake Root CA",
    notBefore: new Date(now() - 86_400_000),
    notAfter: new Date(now() + 20 * 365 * 86_400_000),
    keys: caKeys,
    signingAlgorithm: EC,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const caPem = ca.toString("pem") + "\n";
  const certs = new Map<string, { status: string; serialNumber: string; notAfter: number; request: IssueCertificateRequest; pem: string; key: string | null }>();
  const calls: string[] = [];
  const failures: unknown[] = [];
  let down = false;

  const gate = (what: string) => {
    calls.push(what);
    if (down) throw new KmsNetworkError("POST", what, Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    const f = failures.shift();
    if (f) throw f;
  };

  const sign = async (req: IssueCertificateRequest) => {
    const ttl = req.attributes?.ttl ? parseTtl(req.attributes.ttl) : opts.defaultTtlMs ?? 90 * 86_400_000;
    let publicKey: webcrypto.CryptoKey;
    let keyPem: string | null = null;
    let cn = req.attributes?.commonName ?? "fake";
    if (req.csr) {
      const csr = new x509.Pkcs10CertificateRequest(req.csr);
      publicKey = (await csr.publicKey.export()) as unknown as webcrypto.CryptoKey;
      cn = /CN=([^,]+)/.exec(csr.subject)?.[1] ?? cn;
    } else {
      const kp = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
      publicKey = kp.publicKey;
      keyPem = pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", kp.privateKey));
    }
    const serialNumber = randomBytes(8).toString("hex").replace(/^0/, "1");
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: `CN=${cn}`,
      issuer: ca.subject,
      notBefore: new Date(Math.floor(now() / 1000) * 1000),
      notAfter: new Date(Math.floor((now() + ttl) / 1000) * 1000),
      signingKey: caKeys.privateKey,
      publicKey: publicKey as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[0]["publicKey"],
      signingAlgorithm: EC,
    });
    const id = randomUUID();
    const certPem = cert.toString("pem") + "\n";
    certs.set(id, { status: "active", serialNumber, notAfter: cert.notAfter.getTime(), request: req, pem: certPem, key: keyPem });
    return {
      certificate: certPem,
      issuingCaCertificate: caPem,
      certificateChain: req.removeRootsFromChain ? "" : caPem,
      ...(keyPem ? { privateKey: keyPem } : {}),
      serialNumber,
      certificateId: id,
    };
  };

  const client = {
    universalAuthLogin: async () => {
      gate("login");
      return { accessToken: `tok-${randomUUID()}`, expiresIn: 3600, accessTokenMaxTTL: 86_400, tokenType: "Bearer" };
    },
    renewToken: async () => {
      gate("token-renew");
      return { accessToken: `tok-${randomUUID()}`, expiresIn: 3600, accessTokenMaxTTL: 86_400, tokenType: "Bearer" };
    },
    revokeToken: async () => {},
    getProjectBySlug: async (slug: string) => {
      gate("project");
      return { id: "project-id", slug };
    },
    getProfileBySlug: async (slug: string) => {
      gate("profile");
      return { id: "profile-id", slug };
    },
    issueCertificate: async (req: IssueCertificateRequest) => {
      gate("issue");
      return { certificate: await sign(req), certificateRequestId: randomUUID(), status: "issued" };
    },
    getCertificate: async (id: string) => {
      gate("status");
      const c = certs.get(id);
      if (!c) throw apiErrorFor({ method: "GET", path: `/certificates/${id}`, status: 404, serverMessage: "not found" });
      return { id, status: c.status, serialNumber: c.serialNumber, notAfter: new Date(c.notAfter).toISOString() };
    },
    getCertificateBundle: async (id: string) => {
      gate("bundle");
      const c = certs.get(id)!;
      return { certificate: c.pem, certificateChain: caPem, privateKey: c.key, serialNumber: c.serialNumber };
    },
    getCertificateRequest: async () => {
      throw new Error("not used");
    },
    renewCertificate: async (id: string, body: { removeRootsFromChain?: boolean }) => {
      gate("renew");
      const c = certs.get(id);
      if (!c || c.status === "revoked") throw apiErrorFor({ method: "POST", path: `/certificates/${id}/renew`, status: 400, serverMessage: "cannot renew" });
      const issued = await sign({ ...c.request, removeRootsFromChain: body.removeRootsFromChain });
      return { ...issued, certificateRequestId: "" };
    },
    listSecretsV4: async () => {
      throw new Error("not used");
    },
    getSecretByNameV4: async () => {
      throw new Error("not used");
    },
    close: async () => {},
  };

  return {
    client: client as unknown as KmsClient,
    caPem,
    calls,
    certs,
    /** Queue errors for the next calls. */
    fail: (...errs: unknown[]) => failures.push(...errs),
    setDown: (v: boolean) => (down = v),
    revoke: (id: string) => (certs.get(id)!.status = "revoked"),
    count: (what: string) => calls.filter((c) => c === what).length,
  };
};
export type FakeKms = Awaited<ReturnType<typeof createFakeKms>>;

const parseTtl = (s: string): number => {
  const m = /^(\d+)([smhd])$/.exec(s);
  if (!m) throw new Error(`fake: bad ttl ${s}`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s"];
};
