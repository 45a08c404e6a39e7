/** Shared test helpers: a temp dir, openssl runner, a lazily generated key pool, a ready CA chain. */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "../../../src/crypto/keys.js";
import type { GeneratedKeyPair, KeyAlgorithm } from "../../../src/crypto/keys.js";
import { createIntermediateCa, createRootCa } from "../../../src/core/pki/ca.js";
import { prepareIssuer } from "../../../src/core/pki/issuer.js";
import type { IssuerContext, IssuerUrls } from "../../../src/core/pki/issuer.js";

export const DAY = 86_400_000;

export interface Tmp {
  readonly dir: string;
  write(name: string, data: string | Uint8Array): string;
  cleanup(): void;
}
export const tmp = (): Tmp => {
  const dir = mkdtempSync(join(tmpdir(), "kms-pki-"));
  return {
    dir,
    write: (name, data) => {
      const p = join(dir, name);
      writeFileSync(p, data);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
};

export interface RunResult { code: number; stdout: string; stderr: string }
/** Runs openssl; never throws on a non-zero exit (tests assert on code and output). */
export const openssl = (args: readonly string[], opts: { cwd?: string; input?: Buffer } = {}): Promise<RunResult> =>
  new Promise((resolve) => {
    const child = execFile("openssl", args, { cwd: opts.cwd, encoding: "utf8", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
    if (opts.input) child.stdin?.end(opts.input);
  });

/** Key pairs generated once per (algorithm, slot) in this process; RSA_4096 always uses slot 0 (it is slow). */
const pool = new Map<string, Promise<GeneratedKeyPair>>();
export const poolKey = (alg: KeyAlgorithm, slot = 0): Promise<GeneratedKeyPair> => {
  const k = `${alg}#${alg === "RSA_4096" ? 0 : slot}`;
  let p = pool.get(k);
  if (!p) pool.set(k, (p = generateKeyPair(alg)));
  return p;
};

export interface Chain {
  readonly root: IssuerContext;
  readonly intermediate: IssuerContext;
  readonly rootPem: string;
  readonly intermediatePem: string;
}

export const URLS: IssuerUrls = {
  crlDistributionPoints: ["http://kms.test/api/v1/pki/crl/00000000-0000-4000-8000-000000000001/der"],
  caIssuers: ["http://kms.test/api/v1/pki/ca/00000000-0000-4000-8000-000000000002/certificates/00000000-0000-4000-8000-000000000003/der"],
  ocsp: ["http://kms.test/api/v1/pki/ocsp"],
};

/** Root → intermediate, both EC P-256 unless told otherwise, valid from a minute ago. */
export const makeChain = async (now: number, opts: { rootKey?: KeyAlgorithm; intermediateKey?: KeyAlgorithm; slot?: number } = {}): Promise<Chain> => {
  const rootKey = opts.rootKey ?? "EC_prime256v1";
  const intermediateKey = opts.intermediateKey ?? "EC_prime256v1";
  const slot = opts.slot ?? 0;
  const root = await createRootCa({
    subject: { commonName: "Test Root CA", organization: "Acme", country: "US" },
    keyAlgorithm: rootKey, keyPair: await poolKey(rootKey, slot * 2 + 10),
    notBefore: now - 60_000, notAfter: now + 3650 * DAY,
  });
  const rootCtx = prepareIssuer({ certificate: root.certificate.pem, privateKey: root.keyPair.privateKey, urls: URLS });
  const inter = await createIntermediateCa(rootCtx, {
    subject: { commonName: "Test Issuing CA", organization: "Acme", country: "US" },
    keyAlgorithm: intermediateKey, keyPair: await poolKey(intermediateKey, slot * 2 + 11),
    notBefore: now - 60_000, notAfter: now + 1825 * DAY, maxPathLength: 0,
  });
  const intermediate = prepareIssuer({ certificate: inter.certificate.der, privateKey: inter.keyPair.privateKey, urls: URLS });
  return { root: rootCtx, intermediate, rootPem: root.certificate.pem, intermediatePem: inter.certificate.pem };
};
