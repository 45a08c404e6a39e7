import { createHash } from "node:crypto";
import { isIP } from "node:net";
import type { IssueCertificateAttributes, KeyAlgorithm, SanType, SignatureAlgorithm } from "../../client/types.js";
import type { CertificateEntry } from "./config.js";

/** Turns a certificate entry of the config into the issue request of api.md 7.6, and fingerprints it. */

/** api.md durations are whole `ms`-style units ("30d", "72h"): pick the largest unit that divides. */
export const toApiDuration = (ms: number): string => {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.ceil(ms / 1000)}s`;
};

export const sanType = (value: string): SanType => {
  if (isIP(value)) return "ip_address";
  if (value.includes("@")) return "email";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return "uri";
  return "dns_name";
};

export type KeyMode = "server" | "local" | "csr" | "existing";

export const keyModeOf = (e: CertificateEntry): KeyMode =>
  e["certificate-id"] ? "existing" : e["csr-path"] || e.csr ? "csr" : e["key-source"];

/**
 * The `attributes` object. With a CSR, the subject, SANs and key come from the CSR, so only the
 * remaining attributes (lifetime, usages, signature algorithm) are sent.
 */
export const buildAttributes = (e: CertificateEntry, withCsr: boolean): IssueCertificateAttributes => {
  const a = e.attributes;
  const out: IssueCertificateAttributes = {};
  if (!withCsr) {
    if (a["common-name"]) out.commonName = a["common-name"];
    if (a["alt-names"]?.length) out.altNames = a["alt-names"].map((value) => ({ type: sanType(value), value }));
    if (a["key-algorithm"]) out.keyAlgorithm = a["key-algorithm"];
  }
  if (a["signature-algorithm"]) out.signatureAlgorithm = a["signature-algorithm"];
  if (a["key-usages"]?.length) out.keyUsages = a["key-usages"];
  if (a["extended-key-usages"]?.length) out.extendedKeyUsages = a["extended-key-usages"];
  if (a.ttl !== undefined) out.ttl = toApiDuration(a.ttl);
  return out;
};

export const omitRootOf = (e: CertificateEntry): boolean => e["file-output"].chain?.["omit-root"] ?? true;

/** Everything that changes what the server would issue; a change means a fresh issuance at start. */
export const requestFingerprint = (e: CertificateEntry, csrText: string | undefined): string => {
  const material = {
    v: 1,
    certificateId: e["certificate-id"] ?? null,
    profile: e["profile-name"] ?? null,
    project: e["project-slug"] ?? null,
    keyMode: keyModeOf(e),
    csr: csrText ? createHash("sha256").update(csrText.trim()).digest("hex") : null,
    attributes: buildAttributes(e, false),
    omitRoot: omitRootOf(e),
    withKeyFile: Boolean(e["file-output"]["private-key"]?.path),
    withChainFile: Boolean(e["file-output"].chain?.path),
  };
  return createHash("sha256").update(JSON.stringify(material)).digest("hex");
};

// The server's own default (api.md 7.6), so a policy written for server-made keys also admits ours.
export const localKeyAlgorithm = (e: CertificateEntry): KeyAlgorithm => e.attributes["key-algorithm"] ?? "RSA_2048";
export const signatureAlgorithmOf = (e: CertificateEntry): SignatureAlgorithm | undefined => e.attributes["signature-algorithm"];

/** Name used in logs, metrics labels and hook variables when the certificate has no CN. */
export const displayNameOf = (e: CertificateEntry, index: number): string =>
  e.attributes["common-name"] ?? e["certificate-id"] ?? `${e["file-output"].certificate.path ?? `certificate-${index}`}`;
