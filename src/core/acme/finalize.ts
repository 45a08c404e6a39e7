/**
 * Finalize (RFC 8555 7.4) and certificate download (7.4.2). The CSR must name exactly the order's
 * identifiers; the certificate itself comes from CertificateService.issueForProfile, the same path as API
 * issuance, so the profile's policy judges ACME requests exactly like any other. A policy refusal makes the
 * order invalid with a problem document that names every violated rule.
 */
import type { Clock } from "../clock.js";
import type { RequestInfo } from "../actor.js";
import { BadRequestError, PolicyViolationError } from "../errors.js";
import { isoNow } from "../time.js";
import { certificateBlocks, toPem } from "../../crypto/der/pem.js";
import type { AuditService } from "../audit/audit-service.js";
import type { CertificateService } from "../pki/certificate-service.js";
import type { PolicyViolation } from "../pki/policy.js";
import { parseAndVerifyCsr, type ParsedCsr } from "../pki/csr.js";
import { parseCertificate } from "../pki/certificate.js";
import type { PkiStore } from "../../store/pki.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { AcmeOrderTable } from "../../store/schema.js";
import type { AcmeContext, AcmeRequests } from "./request.js";
import type { AcmeResponse } from "./response.js";
import type { OrderService } from "./orders.js";
import { csrIdentifiers, keyOf } from "./identifiers.js";
import { payloadJson } from "./jws.js";
import { AcmeProblem, documentOf, problem, type Identifier, type ProblemDocument } from "./problem.js";
import { orderView } from "./views.js";

export const PEM_CHAIN = "application/pem-certificate-chain";

type Deps = {
  store: Pick<EnrollmentStore, "transitionOrder" | "updateOrder" | "getOrderByCertificate" | "getAccount">;
  pki: Pick<PkiStore, "getCertificate">;
  requests: Pick<AcmeRequests, "authenticate">;
  orders: Pick<OrderService, "loadOrder">;
  certificates: Pick<CertificateService, "issueForProfile">;
  audit: Pick<AuditService, "recordAs">;
  clock: Clock;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Policy violations → one problem: rejectedIdentifier when only names were refused, badCSR otherwise. */
export const policyProblem = (profileSlug: string, e: PolicyViolationError): AcmeProblem => {
  const violations = (Array.isArray(e.details) ? e.details : []) as PolicyViolation[];
  const isName = (v: PolicyViolation) => v.field.startsWith("sans.") || v.field === "subject.common_name";
  const subproblems: ProblemDocument[] = violations.map((v) => {
    const identifier: Identifier | undefined =
      v.value === undefined ? undefined : v.field === "sans.ip_address" ? { type: "ip", value: v.value } : isName(v) ? { type: "dns", value: v.value } : undefined;
    return documentOf(isName(v) ? "rejectedIdentifier" : "badCSR", `${v.message} [policy rule: ${v.field} ${v.rule}]`, identifier ? { identifier } : {});
  });
  const rules = violations.map((v) => `${v.field} ${v.rule}`).join(", ");
  return problem(violations.length && violations.every(isName) ? "rejectedIdentifier" : "badCSR",
    `The certificate policy of profile '${profileSlug}' refused this request (${rules}): ${violations.map((v) => v.message).join("; ") || e.message}`,
    { subproblems });
};

/**
 * ACME clients ask for names only, so usages come from the profile's defaults (issueForProfile applies them);
 * where the profile has none, what a TLS server certificate needs. The policy judges either.
 */
const acmeDefaultUsages = (csr: ParsedCsr, profileDefaults: string | null) => {
  const d = profileDefaults ? (JSON.parse(profileDefaults) as Record<string, unknown>) : {};
  return {
    ...(!d.keyUsages && { keyUsages: csr.keyAlgorithm?.startsWith("RSA") ? ["digital_signature", "key_encipherment"] : ["digital_signature"] }),
    ...(!d.extendedKeyUsages && { extendedKeyUsages: ["server_auth"] }),
  };
};

const isSelfSigned = (pem: string) => { const c = parseCertificate(pem); return c.issuerDer.equals(c.subjectDer); };

export const finalizeServiceFactory = ({ store, pki, requests, orders, certificates, audit, clock }: Deps) => {
  const fail = async (o: AcmeOrderTable, p: AcmeProblem): Promise<never> => {
    await store.updateOrder(o.id, { status: "invalid", error: JSON.stringify(p.toDocument()), updated_at: isoNow(clock) });
    throw p;
  };

  const finalize = async (ctx: AcmeContext, orderId: string, body: unknown, from: RequestInfo): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.finalize(orderId), "kid");
    const { order, authzIds } = await orders.loadOrder(ctx, orderId, req.account!);
    if (order.status !== "ready") throw problem("orderNotReady", `The order is ${order.status}, not ready${order.status === "pending" ? ": complete its authorizations first" : ""}`);
    const p = payloadJson(req.payload);
    if (!isObject(p) || typeof p.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.csr)) throw problem("malformed", "finalize needs {csr: base64url(DER PKCS#10)}");
    let csr: ParsedCsr;
    try {
      csr = await parseAndVerifyCsr(Buffer.from(p.csr, "base64url"));
    } catch (e) {
      if (e instanceof BadRequestError) throw problem("badCSR", e.message);
      throw e;
    }
    // RFC 8555 7.4: exactly the order's identifiers, no more, no fewer. The order stays ready for a corrected CSR.
    const wanted = new Set((JSON.parse(order.identifiers) as Identifier[]).map(keyOf));
    const asked = csrIdentifiers(csr);
    const extra = [...asked].filter((n) => !wanted.has(n));
    const missing = [...wanted].filter((n) => !asked.has(n));
    if (extra.length || missing.length)
      throw problem("badCSR", `The CSR must name exactly the order's identifiers${extra.length ? `; not in the order: ${extra.join(", ")}` : ""}${missing.length ? `; missing: ${missing.join(", ")}` : ""}`);
    if (!(await store.transitionOrder(order.id, "ready", { status: "processing", updated_at: isoNow(clock) })))
      throw problem("orderNotReady", "The order is already being finalized");

    let issued: Awaited<ReturnType<CertificateService["issueForProfile"]>>;
    try {
      issued = await certificates.issueForProfile(null, ctx.profile, {
        profileId: ctx.profile.id, csr: toPem("CERTIFICATE REQUEST", csr.der), removeRootsFromChain: true,
        attributes: {
          ...acmeDefaultUsages(csr, ctx.profile.defaults),
          ...(order.not_before && { notBefore: order.not_before }),
          ...(order.not_after && { notAfter: order.not_after }),
        },
      }, undefined, { enrollment: "acme" });
    } catch (e) {
      if (e instanceof PolicyViolationError) return fail(order, policyProblem(ctx.profile.slug, e));
      if (e instanceof BadRequestError) return fail(order, problem("badCSR", e.message));
      await store.updateOrder(order.id, { status: "ready", updated_at: isoNow(clock) });
      throw e;
    }
    const stamp = isoNow(clock);
    const done = { ...order, status: "valid", certificate_id: issued.certificate.certificateId, updated_at: stamp };
    await store.updateOrder(order.id, { status: "valid", certificate_id: done.certificate_id, updated_at: stamp });
    await audit.recordAs({ type: "acme-account", id: req.account!.id }, from, {
      action: "acme-issue-certificate", resourceType: "certificate", resourceId: done.certificate_id, projectId: ctx.profile.project_id,
      metadata: { profile: ctx.profile.slug, account: req.account!.id, order: order.id, serialNumber: issued.certificate.serialNumber },
    });
    return { body: orderView(ctx.urls, done, authzIds), location: ctx.urls.order(order.id) };
  };

  /**
   * The certificate and its chain up to, not including, the root (servers send no root). POST-as-GET by the
   * ordering account; a plain GET is served too, since certificates are public.
   */
  const certificate = async (ctx: AcmeContext, certificateId: string, body: unknown | null): Promise<AcmeResponse> => {
    const order = await store.getOrderByCertificate(certificateId);
    if (body !== null) {
      const req = await requests.authenticate(ctx, body, ctx.urls.certificate(certificateId), "kid");
      if (order && order.account_id !== req.account!.id) throw problem("unauthorized", "This certificate was ordered by another account");
    }
    const row = order && order.profile_id === ctx.profile.id ? await pki.getCertificate(certificateId) : undefined;
    if (!row) throw problem("malformed", `Certificate ${certificateId} not found`, { status: 404 });
    const chain = certificateBlocks(row.certificate_chain).filter((b) => !isSelfSigned(b));
    const text = [row.certificate.trim(), ...chain.map((b) => b.trim())].join("\n") + "\n";
    return { body: text, contentType: PEM_CHAIN };
  };

  return { finalize, certificate };
};
export type FinalizeService = ReturnType<typeof finalizeServiceFactory>;
