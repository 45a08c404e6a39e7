/**
 * EST (RFC 7030) as an enrollment type of a certificate profile: /cacerts, /simpleenroll,
 * /simplereenroll and /serverkeygen under `/.well-known/est/<profile slug or id>/`. Certificates come from
 * CertificateService.issueForProfile, so the profile's policy applies exactly as to API issuance.
 */
import type { Clock } from "../clock.js";
import type { RequestInfo } from "../actor.js";
import { BadRequestError, NotFoundError, RateLimitError } from "../errors.js";
import { isUuid } from "../ids.js";
import { fromPem, fromPemAll, toPem } from "../../crypto/der/pem.js";
import type { AuditService, OtherActor } from "../audit/audit-service.js";
import type { CaService } from "../pki/ca-service.js";
import type { CertificateService } from "../pki/certificate-service.js";
import { parseCertificate } from "../pki/certificate.js";
import { parseCsr } from "../pki/csr.js";
import type { StoredEstConfig } from "../pki/profile-service.js";
import type { PkiStore } from "../../store/pki.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { CertificateProfileTable, CertificateTable } from "../../store/schema.js";
import { basicPassword, chainsTo, failureThrottle, passphraseMatches, unauthorized } from "./auth.js";
import { certsOnly } from "./pkcs7.js";

/** /serverkeygen's answer (RFC 7030 4.4.2): the private key (PKCS#8 DER) and the certificate (certs-only PKCS#7). */
export interface ServerKeygenResult { privateKey: Buffer; certificate: Buffer }

export interface EstCredentials {
  /** The Authorization header as sent. */
  authorization?: string;
  /** The TLS client certificate chain (leaf first, DER), when the server runs HTTPS and the client sent one. */
  clientChain: Buffer[];
}

type Deps = {
  store: Pick<EnrollmentStore, "findProfilesBySlug">;
  pki: Pick<PkiStore, "getProfile" | "getCertificateBySerial">;
  cas: Pick<CaService, "certificate">;
  certificates: Pick<CertificateService, "issueForProfile">;
  audit: Pick<AuditService, "recordAuth" | "recordAs">;
  clock: Clock;
};

/** PKCS#10 as EST sends it: base64 DER (RFC 7030 4.2.1); PEM and raw DER are accepted too. */
export const decodePkcs10 = (body: Buffer | string | undefined): Buffer => {
  if (body === undefined || body.length === 0) throw new BadRequestError("The request body must be a base64-encoded PKCS#10 certificate request");
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (buf[0] === 0x30) return buf;
  const text = buf.toString("latin1");
  if (text.includes("-----BEGIN")) {
    try { return fromPem(text, ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]).der; } catch (e) { throw new BadRequestError(`csr: ${(e as Error).message}`); }
  }
  const b64 = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new BadRequestError("The request body is not base64 (RFC 7030 4.2.1)");
  return Buffer.from(b64, "base64");
};

/** RFC 7030 4.4.1.1 and 4.4.1.2: CSR attributes asking serverkeygen to encrypt the key it returns. */
const KEY_ENCRYPTION_REQUESTS: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.9.16.2.37": "DecryptKeyIdentifier",
  "1.2.840.113549.1.9.16.2.54": "AsymmetricDecryptKeyIdentifier",
};

const sameNames = (a: CertificateTable, csrDer: Buffer) => {
  const cert = parseCertificate(a.certificate);
  const csr = parseCsr(csrDer);
  const sansOf = (list: readonly { type: string; value: string }[]) => list.map((s) => `${s.type}:${s.value.toLowerCase()}`).sort().join(",");
  return JSON.stringify(cert.subject.fields) === JSON.stringify(csr.subject) && sansOf(cert.sans?.sans ?? []) === sansOf(csr.sans);
};

/** Who an EST request acted as: the certificate it authenticated with, or the profile whose passphrase it gave. */
const estActor = (p: CertificateProfileTable, who: { via: "certificate"; certificate: CertificateTable } | { via: "passphrase" }): OtherActor =>
  who.via === "certificate" ? { type: "certificate", id: who.certificate.id } : { type: "est-passphrase", id: p.id };

export const estServiceFactory = ({ store, pki, cas, certificates, audit, clock }: Deps) => {
  const throttle = failureThrottle(() => clock.now());

  /** The profile a label names: its id, or its slug when exactly one EST profile has it. */
  const profileOf = async (label: string): Promise<CertificateProfileTable> => {
    let p: CertificateProfileTable | undefined;
    if (isUuid(label)) p = await pki.getProfile(label);
    else {
      const found = await store.findProfilesBySlug(label, "est");
      if (found.length > 1) throw new BadRequestError(`Several projects have an EST profile named '${label}': use the profile id in the URL`);
      p = found[0];
    }
    if (!p || p.enrollment_type !== "est" || !p.est_config) throw new NotFoundError(`No EST profile '${label}'`);
    if (!p.ca_id) throw new BadRequestError(`EST profile '${p.slug}' has no issuing CA`);
    return p;
  };

  /** /cacerts: the issuing CA and its chain, certs-only (RFC 7030 4.1). Unauthenticated (4.1.1). */
  const cacerts = async (label: string): Promise<Buffer> => {
    const p = await profileOf(label);
    const ca = await cas.certificate(undefined, p.ca_id!);
    const ders = fromPemAll(`${ca.certificate}\n${ca.certificateChain}`).filter((b) => b.label === "CERTIFICATE").map((b) => b.der);
    return certsOnly(ders);
  };

  /** The active certificate of this profile the client authenticated with over TLS, if any. */
  const profileCertificate = async (p: CertificateProfileTable, chain: Buffer[]): Promise<CertificateTable | undefined> => {
    if (!chain.length) return undefined;
    let parsed: ReturnType<typeof parseCertificate>;
    try { parsed = parseCertificate(chain[0]!); } catch { return undefined; }
    const row = await pki.getCertificateBySerial(p.ca_id!, parsed.serialHex);
    if (!row || row.profile_id !== p.id || row.status !== "active" || Date.parse(row.not_after) <= clock.now()) return undefined;
    return parseCertificate(row.certificate).der.equals(parsed.der) ? row : undefined;
  };

  const authenticate = async (p: CertificateProfileTable, cred: EstCredentials, from: RequestInfo) => {
    const byCert = await profileCertificate(p, cred.clientChain);
    if (byCert) return { via: "certificate" as const, certificate: byCert };
    const config = JSON.parse(p.est_config!) as StoredEstConfig;
    const password = basicPassword(cred.authorization);
    if (password === undefined) throw unauthorized("EST enrollment needs HTTP basic authentication with the profile's passphrase, or a client certificate this profile issued");
    if (throttle.blocked(from.ip)) throw new RateLimitError("Too many failed EST logins from this address; wait a minute", 60);
    if (!(await passphraseMatches(password, config.passphraseHash))) {
      throttle.fail(from.ip);
      await audit.recordAuth(null, from, { action: "est-login-failed", resourceType: "certificate-profile", resourceId: p.id, projectId: p.project_id });
      throw unauthorized("Wrong EST passphrase");
    }
    if (!config.disableBootstrapCaValidation && config.caChain && !chainsTo(cred.clientChain, config.caChain, clock.now()))
      throw unauthorized("This profile also requires a TLS client certificate issued under its bootstrap CA chain");
    return { via: "passphrase" as const };
  };

  /** /simpleenroll and /simplereenroll (RFC 7030 4.2): the issued certificate, certs-only. */
  const enroll = async (label: string, cred: EstCredentials, body: Buffer | string | undefined, from: RequestInfo, reenroll: boolean): Promise<Buffer> => {
    const p = await profileOf(label);
    const who = await authenticate(p, cred, from);
    const der = decodePkcs10(body);
    // RFC 7030 4.2.2: a re-enrollment keeps the subject and subjectAltName of the certificate being renewed.
    if (reenroll && who.via === "certificate" && !sameNames(who.certificate, der))
      throw new BadRequestError("simplereenroll: the CSR's subject and subjectAltName must equal those of the client certificate being renewed");
    const r = await certificates.issueForProfile(null, p, { profileId: p.id, csr: toPem("CERTIFICATE REQUEST", der) }, undefined, { enrollment: "est" });
    await audit.recordAs(estActor(p, who), from, {
      action: reenroll ? "est-reenroll" : "est-enroll", resourceType: "certificate", resourceId: r.certificate.certificateId, projectId: p.project_id,
      metadata: { profile: p.slug, serialNumber: r.certificate.serialNumber, via: who.via, ...(who.via === "certificate" && { renewing: who.certificate.id }) },
    });
    return certsOnly([parseCertificate(r.certificate.certificate).der]);
  };

  /**
   * /serverkeygen (RFC 7030 4.4): the CSR is a template, as for /simpleenroll its names and requested usages go
   * through the profile's policy, but the key pair is generated here (the CSR's key algorithm) and the private
   * key is returned with the certificate, over the TLS connection; it is also kept, encrypted, like every
   * server-generated key. A CSR that asks for the key encrypted to a client key (DecryptKeyIdentifier or
   * AsymmetricDecryptKeyIdentifier, RFC 7030 4.4.1) is refused: we cannot encrypt it, and answering with the
   * key in the clear would quietly give the client less than it asked for.
   */
  const serverKeygen = async (label: string, cred: EstCredentials, body: Buffer | string | undefined, from: RequestInfo): Promise<ServerKeygenResult> => {
    const p = await profileOf(label);
    const who = await authenticate(p, cred, from);
    const der = decodePkcs10(body);
    const encryptTo = parseCsr(der).attributeTypes.filter((t) => t in KEY_ENCRYPTION_REQUESTS);
    if (encryptTo.length)
      throw new BadRequestError(`serverkeygen: the CSR asks for the private key encrypted (${encryptTo.map((t) => KEY_ENCRYPTION_REQUESTS[t]).join(", ")}), which this server does not support; send the CSR without that attribute to receive the key inside the TLS connection`);
    const r = await certificates.issueForProfile(null, p, { profileId: p.id, csr: toPem("CERTIFICATE REQUEST", der) }, undefined, { enrollment: "est", serverKeygen: true });
    if (!r.certificate.privateKey) throw new Error("serverkeygen: no private key was generated");
    await audit.recordAs(estActor(p, who), from, {
      action: "est-serverkeygen", resourceType: "certificate", resourceId: r.certificate.certificateId, projectId: p.project_id,
      metadata: { profile: p.slug, serialNumber: r.certificate.serialNumber, via: who.via },
    });
    return { privateKey: fromPem(r.certificate.privateKey, ["PRIVATE KEY"]).der, certificate: certsOnly([parseCertificate(r.certificate.certificate).der]) };
  };

  return { cacerts, enroll, serverKeygen, profileOf };
};
export type EstService = ReturnType<typeof estServiceFactory>;
