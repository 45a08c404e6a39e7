import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { OCSP_RESPONSE_CONTENT_TYPE, ocspRequestFromGetPath } from "../../core/pki/ocsp.js";

/** Unauthenticated by design: relying parties fetch CRLs, CA certificates and OCSP answers without a token. */
export const registerPkiPublicRoutes = (r: Router, s: Services) => {
  for (const url of ["/api/v1/pki/crl/:crlId/der", "/api/v1/pki/crl/:crlId"])
    r.open("GET", url, async (req, reply) => {
      const { crlId } = parse(z.object({ crlId: z.string().min(1) }), req.params, "params");
      reply.type("application/pkix-crl");
      return s.crls.der(crlId);
    });
  r.open("GET", "/api/v1/pki/crl/:crlId/pem", async (req, reply) => {
    const { crlId } = parse(z.object({ crlId: z.string().min(1) }), req.params, "params");
    const der = await s.crls.der(crlId);
    reply.type("application/x-pem-file");
    // Our own label: @peculiar/x509 writes the wrong one (DESIGN.md).
    return `-----BEGIN X509 CRL-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END X509 CRL-----\n`;
  });
  for (const url of ["/api/v1/pki/ca/:caId/certificates/:caCertId/der", "/api/v1/cert-manager/ca/internal/:caId/certificates/:caCertId/der"])
    r.open("GET", url, async (req, reply) => {
      const p = parse(z.object({ caId: z.string().min(1), caCertId: z.string().min(1) }), req.params, "params");
      reply.type("application/pkix-cert");
      return s.cas.caCertificateDer(p.caId, p.caCertId);
    });
  r.open("POST", "/api/v1/pki/ocsp/:caId", async (req, reply) => {
    const { caId } = parse(z.object({ caId: z.string().min(1) }), req.params, "params");
    reply.type(OCSP_RESPONSE_CONTENT_TYPE);
    return s.ocsp.respond(caId, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
  });
  r.open("GET", "/api/v1/pki/ocsp/:caId/*", async (req, reply) => {
    const { caId, "*": encoded } = parse(z.object({ caId: z.string().min(1), "*": z.string() }), req.params, "params");
    reply.type(OCSP_RESPONSE_CONTENT_TYPE);
    let der: Buffer;
    try { der = ocspRequestFromGetPath(decodeURIComponent(encoded)); } catch { der = Buffer.alloc(0); }
    return s.ocsp.respond(caId, der);
  });
};
