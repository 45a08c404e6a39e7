/**
 * EST (RFC 7030) under `/.well-known/est/<profile slug or id>/`. Answers are base64 certs-only PKCS#7
 * (`application/pkcs7-mime`); errors are plain text (RFC 7030 4.2.3), a 401 names the Basic scheme.
 */
import { randomBytes } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { KmsError, NotFoundError, RateLimitError, UnauthorizedError } from "../../core/errors.js";
import { EST_REALM } from "../../core/est/auth.js";
import { base64Lines } from "../../core/est/pkcs7.js";

const Params = z.object({ label: z.string().min(1).max(255) });
const PKCS7 = "application/pkcs7-mime; smime-type=certs-only";

/** The TLS client certificate chain as presented (leaf first, DER); empty over plain HTTP or without one. */
const clientChain = (req: FastifyRequest): Buffer[] => {
  const sock = req.raw.socket as Partial<TLSSocket>;
  if (typeof sock.getPeerCertificate !== "function") return [];
  const out: Buffer[] = [];
  let c = sock.getPeerCertificate(true);
  while (c && c.raw && out.length < 8 && !out.some((d) => d.equals(c.raw))) {
    out.push(c.raw);
    c = c.issuerCertificate;
  }
  return out;
};

const statusOf = (e: KmsError) => (e instanceof UnauthorizedError ? 401 : e instanceof NotFoundError ? 404 : e instanceof RateLimitError ? 429 : e.wireName === "InternalServerError" ? 500 : 400);

export const registerEstRoutes = (r: Router, s: Services) => {
  /** Errors are plain text (RFC 7030 4.2.3); a 401 names the Basic scheme. */
  const failed = (req: FastifyRequest, reply: FastifyReply, e: unknown) => {
    const status = e instanceof KmsError ? statusOf(e) : 500;
    if (status === 500) req.log.error({ err: { name: (e as Error).name, message: (e as Error).message } }, "EST request failed");
    if (status === 401) reply.header("www-authenticate", EST_REALM);
    if (e instanceof RateLimitError) reply.header("retry-after", String(e.retryAfterSeconds));
    return reply.status(status).type("text/plain; charset=utf-8").send(`${status === 500 ? "Something went wrong" : (e as Error).message}\n`);
  };
  const send = (h: (req: FastifyRequest, label: string) => Promise<Buffer>) => async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const der = await h(req, parse(Params, req.params, "params").label);
      return reply.status(200).header("content-type", PKCS7).header("content-transfer-encoding", "base64").send(base64Lines(der));
    } catch (e) {
      return failed(req, reply, e);
    }
  };
  const info = (req: FastifyRequest) => ({ ip: req.ip, userAgent: req.headers["user-agent"] });
  const credentials = (req: FastifyRequest) => ({ authorization: req.headers.authorization, clientChain: clientChain(req) });
  const body = (req: FastifyRequest) => (Buffer.isBuffer(req.body) || typeof req.body === "string" ? req.body : undefined);

  const base = "/.well-known/est/:label";
  r.open("GET", `${base}/cacerts`, send((_req, label) => s.est.cacerts(label)));
  r.open("POST", `${base}/simpleenroll`, send((req, label) => s.est.enroll(label, credentials(req), body(req), info(req), false)));
  r.open("POST", `${base}/simplereenroll`, send((req, label) => s.est.enroll(label, credentials(req), body(req), info(req), true)));
  // RFC 7030 4.4.2: the key and the certificate as the two parts of a multipart/mixed answer, each base64.
  r.open("POST", `${base}/serverkeygen`, async (req, reply) => {
    try {
      const out = await s.est.serverKeygen(parse(Params, req.params, "params").label, credentials(req), body(req), info(req));
      const boundary = `est-${randomBytes(12).toString("hex")}`;
      const part = (type: string, der: Buffer) => `--${boundary}\r\nContent-Type: ${type}\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(der)}`;
      return reply.status(200).header("content-type", `multipart/mixed; boundary=${boundary}`)
        .send(`${part("application/pkcs8", out.privateKey)}${part(PKCS7, out.certificate)}--${boundary}--\r\n`);
    } catch (e) {
      return failed(req, reply, e);
    }
  });
  // RFC 7030 4.5.2: no CSR attributes are required.
  r.open("GET", `${base}/csrattrs`, async (req, reply) => {
    const known = await s.est.profileOf(parse(Params, req.params, "params").label).then(() => true, () => false);
    return known ? reply.status(204).send() : reply.status(404).type("text/plain; charset=utf-8").send("No such EST profile\n");
  });
};
