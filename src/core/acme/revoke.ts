/**
 * Revocation (RFC 8555 7.6): signed either by an account (kid) that ordered the certificate or holds valid
 * authorizations for all its names, or by the certificate's own key (jwk), so a key holder can revoke even
 * without the account. The CRL is re-signed before we answer, so CRL and OCSP show it at once.
 */
import type { Clock } from "../clock.js";
import type { RequestInfo } from "../actor.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import type { CertificateService } from "../pki/certificate-service.js";
import { REVOCATION_REASONS, type RevocationReason } from "../pki/algorithms.js";
import { parseCertificate, type ParsedCertificate } from "../pki/certificate.js";
import { canonicalIp } from "../pki/ip.js";
import type { PkiStore } from "../../store/pki.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { AcmeAccountTable } from "../../store/schema.js";
import type { AcmeContext, AcmeRequests } from "./request.js";
import type { AcmeResponse } from "./response.js";
import { payloadJson, spkiOfJwk } from "./jws.js";
import { problem } from "./problem.js";

type Deps = {
  store: Pick<EnrollmentStore, "getOrderByCertificate" | "listValidIdentifierValues">;
  pki: Pick<PkiStore, "getCertificateBySerial">;
  requests: Pick<AcmeRequests, "authenticate">;
  certificates: Pick<CertificateService, "revokeForEnrollment">;
  audit: Pick<AuditService, "recordAs">;
  clock: Clock;
};

const REASON_BY_CODE = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]));

/** RFC 5280 5.3.1 codes; 7 is unused and removeFromCRL (8) makes no sense for a client to ask. */
const reasonOf = (v: unknown): RevocationReason => {
  if (v === undefined) return "UNSPECIFIED";
  const name = typeof v === "number" && Number.isInteger(v) && v !== 7 && v !== 8 ? REASON_BY_CODE.get(v) : undefined;
  if (!name) throw problem("badRevocationReason", `reason ${JSON.stringify(v)} is not an RFC 5280 revocation reason code this server accepts (0-6, 9, 10)`);
  return name;
};

/** The names in a certificate, as authorization identifier values. */
const namesOf = (c: ParsedCertificate): string[] =>
  (c.sans?.sans ?? []).map((s) => (s.type === "ip_address" ? canonicalIp(s.value) ?? s.value : s.value.toLowerCase().replace(/^\*\./, "")));

export const revokeServiceFactory = ({ store, pki, requests, certificates, audit, clock }: Deps) => {
  const mayRevoke = async (account: AcmeAccountTable, certId: string, parsed: ParsedCertificate): Promise<boolean> => {
    const order = await store.getOrderByCertificate(certId);
    if (order?.account_id === account.id) return true;
    const proven = new Set(await store.listValidIdentifierValues(account.id, isoNow(clock)));
    const names = namesOf(parsed);
    return names.length > 0 && names.every((n) => proven.has(n));
  };

  const revoke = async (ctx: AcmeContext, body: unknown, from: RequestInfo): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.revokeCert, "either");
    const p = payloadJson(req.payload) as Record<string, unknown> | undefined;
    if (!p || typeof p.certificate !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.certificate)) throw problem("malformed", "revokeCert needs {certificate: base64url(DER)}");
    const reason = reasonOf(p.reason);
    let parsed: ParsedCertificate;
    try { parsed = parseCertificate(Buffer.from(p.certificate, "base64url")); } catch { throw problem("malformed", "certificate is not a DER X.509 certificate"); }
    const row = ctx.profile.ca_id ? await pki.getCertificateBySerial(ctx.profile.ca_id, parsed.serialHex) : undefined;
    if (!row || row.profile_id !== ctx.profile.id || !parseCertificate(row.certificate).der.equals(parsed.der))
      throw problem("malformed", "This certificate was not issued by this directory", { status: 404 });
    const allowed = req.account ? await mayRevoke(req.account, row.id, parsed) : spkiOfJwk(req.jwk).equals(parsed.spkiDer);
    if (!allowed) throw problem("unauthorized", req.account
      ? "This account neither ordered the certificate nor holds valid authorizations for all its names"
      : "The JWS key is not the certificate's key");
    if (row.status === "revoked") throw problem("alreadyRevoked", `Certificate ${row.serial_number} is already revoked`);
    await certificates.revokeForEnrollment(row.id, reason);
    await audit.recordAs(req.account ? { type: "acme-account", id: req.account.id } : { type: "certificate", id: row.id }, from, {
      action: "acme-revoke-certificate", resourceType: "certificate", resourceId: row.id, projectId: ctx.profile.project_id,
      metadata: { profile: ctx.profile.slug, serialNumber: row.serial_number, reason, by: req.account ? `account ${req.account.id}` : "certificate key" },
    });
    return { body: "" };
  };

  return { revoke };
};
export type RevokeService = ReturnType<typeof revokeServiceFactory>;
