import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";

export interface HttpAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/**
 * One HTTP exchange with an upstream CA. node:https rather than fetch: a private ACME server (pebble, a company CA)
 * is trusted through the CA record's own `caBundle`, which is a per-request `ca` option here and would need a
 * dispatcher outside the standard library with fetch.
 */
export const httpExchange = (url: string, o: { method: string; headers?: Record<string, string>; body?: string; ca?: string; timeoutMs?: number }): Promise<HttpAnswer> =>
  new Promise((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === "https:" ? httpsRequest : u.protocol === "http:" ? httpRequest : undefined;
    if (!send) return reject(new Error(`${url}: only http and https URLs are supported`));
    const req = send(u, {
      method: o.method, headers: { "user-agent": "kms-external-ca/1", ...o.headers, ...(o.body !== undefined && { "content-length": String(Buffer.byteLength(o.body)) }) },
      ...(o.ca && u.protocol === "https:" ? { ca: o.ca } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        // Certificates and ACME objects are small; a server sending megabytes is broken or hostile.
        if (size > 4 * 1024 * 1024) { req.destroy(new Error(`${url}: response larger than 4 MiB`)); return; }
        chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error(`${url}: no answer within ${(o.timeoutMs ?? 30_000) / 1000}s`)));
    req.on("error", reject);
    req.end(o.body);
  });
