/**
 * Challenge validation over the network (RFC 8555 8.3 http-01, 8.4 dns-01, RFC 8737 tls-alpn-01). Each validator resolves when
 * the client proved control and throws an AcmeProblem (connection, incorrectResponse, dns, unauthorized)
 * whose detail says what was fetched and what came back.
 */
import { createHash } from "node:crypto";
import { request } from "node:http";
import { connect as tlsConnect } from "node:tls";
import { Resolver } from "node:dns/promises";
import { isIPv6 } from "node:net";
import { dns01Value } from "./jws.js";
import type { HostPort } from "./options.js";
import { problem, type Identifier } from "./problem.js";
import { parseCertificate } from "../pki/certificate.js";

export interface ValidationOptions {
  http01Override?: HostPort;
  tlsAlpn01Override?: HostPort;
  dnsResolvers?: string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

export type Validator = (identifier: Identifier, token: string, keyAuthorization: string, o: ValidationOptions) => Promise<void>;

/** RFC 8555 8.3 allows a little whitespace around the key authorization, and nothing more; keep reads small. */
const MAX_BODY = 8 * 1024;

/**
 * http-01: GET http://<identifier>/.well-known/acme-challenge/<token> on port 80 must return the key
 * authorization. With an override, the request goes to that host:port with the identifier as Host header.
 * Redirects are not followed (many CAs do; a closed-network server rarely needs them).
 */
export const validateHttp01: Validator = (identifier, token, keyAuth, o) =>
  new Promise<void>((resolve, reject) => {
    const name = identifier.value;
    const host = o.http01Override?.host ?? name;
    const port = o.http01Override?.port ?? 80;
    const path = `/.well-known/acme-challenge/${token}`;
    const hostHeader = isIPv6(name) ? `[${name}]` : name;
    const where = `http://${hostHeader}${path}${o.http01Override ? ` (sent to ${host}:${port})` : ""}`;
    const req = request({ host, port, path, method: "GET", headers: { host: hostHeader, "user-agent": "kms-acme-validator", accept: "*/*" }, timeout: o.timeoutMs, signal: o.signal });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on("error", (e) => reject(problem("connection", `Fetching ${where} failed: ${e.message}`, { identifier })));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) { res.destroy(); reject(problem("incorrectResponse", `${where} answered more than ${MAX_BODY} bytes`, { identifier })); return; }
        chunks.push(c);
      });
      res.on("error", (e) => reject(problem("connection", `Reading ${where} failed: ${e.message}`, { identifier })));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(problem("unauthorized", `${where} answered HTTP ${res.statusCode}, expected 200 with the key authorization`, { identifier }));
        const body = Buffer.concat(chunks).toString("utf8").trim();
        if (body !== keyAuth) return reject(problem("incorrectResponse", `${where} answered ${JSON.stringify(body.slice(0, 100))}, not the key authorization`, { identifier }));
        resolve();
      });
    });
    req.end();
  });

/** dns-01: a TXT record at _acme-challenge.<name> holds base64url(SHA-256(key authorization)). */
export const validateDns01: Validator = async (identifier, _token, keyAuth, o) => {
  const resolver = new Resolver({ timeout: o.timeoutMs, tries: 2 });
  if (o.dnsResolvers?.length) resolver.setServers(o.dnsResolvers);
  const name = `_acme-challenge.${identifier.value}`;
  const expected = dns01Value(keyAuth);
  let records: string[][];
  try {
    records = await resolver.resolveTxt(name);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw problem(code === "ENOTFOUND" || code === "ENODATA" ? "unauthorized" : "dns", `No TXT record at ${name} (${code ?? (e as Error).message})`, { identifier });
  } finally {
    resolver.cancel();
  }
  // A long TXT value may come in several character-strings: they are one value (RFC 7208 3.3).
  const values = records.map((r) => r.join(""));
  if (!values.includes(expected))
    throw problem("incorrectResponse", `The TXT records at ${name} (${values.map((v) => JSON.stringify(v)).join(", ") || "none"}) do not include the expected value`, { identifier });
};

/** RFC 8737 3: the acmeIdentifier extension, critical, holding OCTET STRING(SHA-256(key authorization)). */
export const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";
const ACME_TLS_1 = "acme-tls/1";

/**
 * tls-alpn-01: a TLS connection to <identifier>:443 with SNI = the name and ALPN "acme-tls/1" must negotiate
 * that protocol and present a (self-signed) certificate whose only SAN is the name and whose critical
 * acmeIdentifier extension holds SHA-256 of the key authorization. The certificate is not otherwise trusted
 * (RFC 8737 3). With an override, the connection goes to that host:port, still with the name as SNI.
 */
export const validateTlsAlpn01: Validator = (identifier, _token, keyAuth, o) =>
  new Promise<void>((resolve, reject) => {
    const name = identifier.value;
    const host = o.tlsAlpn01Override?.host ?? name;
    const port = o.tlsAlpn01Override?.port ?? 443;
    const where = `${name}:443${o.tlsAlpn01Override ? ` (sent to ${host}:${port})` : ""}`;
    const fail = (type: "connection" | "unauthorized" | "incorrectResponse", detail: string) => {
      socket.destroy();
      reject(problem(type, detail, { identifier }));
    };
    const socket = tlsConnect({ host, port, servername: name, ALPNProtocols: [ACME_TLS_1], rejectUnauthorized: false, timeout: o.timeoutMs });
    const onAbort = () => socket.destroy(new Error("validation stopped"));
    o.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("close", () => o.signal?.removeEventListener("abort", onAbort));
    socket.on("timeout", () => socket.destroy(new Error(`no TLS handshake within ${o.timeoutMs} ms`)));
    socket.on("error", (e) => reject(problem("connection", `TLS connection to ${where} failed: ${e.message}`, { identifier })));
    socket.on("secureConnect", () => {
      if (socket.alpnProtocol !== ACME_TLS_1)
        return fail("unauthorized", `${where} did not negotiate ALPN "${ACME_TLS_1}" (got ${socket.alpnProtocol ? `"${socket.alpnProtocol}"` : "none"})`);
      const raw = socket.getPeerX509Certificate()?.raw;
      if (!raw) return fail("incorrectResponse", `${where} presented no certificate`);
      let cert: ReturnType<typeof parseCertificate>;
      try {
        cert = parseCertificate(raw);
      } catch (e) {
        return fail("incorrectResponse", `${where} presented a certificate that cannot be read: ${(e as Error).message}`);
      }
      const sans = cert.sans?.sans ?? [];
      if (sans.length !== 1 || sans[0]!.type !== "dns_name" || sans[0]!.value.toLowerCase() !== name.toLowerCase() || cert.sans?.unsupported.length)
        return fail("incorrectResponse", `${where}: the certificate's subjectAltName must be exactly DNS:${name}, not ${JSON.stringify(sans.map((s) => s.value))}`);
      const ext = cert.extensions.get(ACME_IDENTIFIER_OID);
      if (!ext) return fail("incorrectResponse", `${where}: the certificate has no acmeIdentifier extension (${ACME_IDENTIFIER_OID})`);
      if (!ext.critical) return fail("incorrectResponse", `${where}: the acmeIdentifier extension must be critical`);
      const expected = Buffer.concat([Buffer.from([0x04, 0x20]), createHash("sha256").update(keyAuth).digest()]);
      if (!ext.value.equals(expected)) return fail("incorrectResponse", `${where}: the acmeIdentifier extension does not hold the SHA-256 digest of the key authorization`);
      socket.end();
      resolve();
    });
  });

/** The registry of challenge types; a new type is one function here. */
export const VALIDATORS: Readonly<Record<string, Validator>> = { "http-01": validateHttp01, "dns-01": validateDns01, "tls-alpn-01": validateTlsAlpn01 };
