import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JWTPayload } from "jose";
import type { Signer } from "./jwks.js";

/**
 * Instance metadata services on one local port, each speaking its cloud's protocol:
 * - GCE: /computeMetadata/v1/instance/service-accounts/default/identity (needs Metadata-Flavor: Google);
 * - Azure IMDS: /metadata/identity/oauth2/token (needs Metadata: true);
 * - AWS IMDSv2: PUT /latest/api/token, then role credentials with the session token.
 */

export interface MetadataOptions {
  gce?: { signer: Signer; claims: (audience: string) => JWTPayload };
  /** `identity`: the user-assigned identity asked for (`client_id=…`, `object_id=…` or `msi_res_id=…`), if any. */
  azure?: { signer: Signer; claims: (resource: string, identity?: string) => JWTPayload };
  aws?: { role: string; accessKeyId: string; secretAccessKey: string; token: string; region: string };
}

export interface MetadataServer { url: string; hostPort: string; hits: string[]; close(): Promise<void> }

export const startMetadataServer = async (o: MetadataOptions): Promise<MetadataServer> => {
  const hits: string[] = [];
  const sessions = new Set<string>();
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, "http://x");
    hits.push(`${req.method} ${url.pathname}`);
    const text = (status: number, body: string, type = "text/plain") => { res.writeHead(status, { "content-type": type }); res.end(body); };
    if (url.pathname === "/computeMetadata/v1/instance/service-accounts/default/identity" && o.gce) {
      if (req.headers["metadata-flavor"] !== "Google") return text(403, "Missing Metadata-Flavor:Google header.");
      const aud = url.searchParams.get("audience");
      if (!aud) return text(400, "non-empty audience parameter required");
      return text(200, await o.gce.signer.sign({ iss: "https://accounts.google.com", aud, ...o.gce.claims(aud) }));
    }
    if (url.pathname === "/metadata/identity/oauth2/token" && o.azure) {
      if (req.headers.metadata !== "true") return text(400, JSON.stringify({ error: "invalid_request", error_description: "Required metadata header not specified" }), "application/json");
      const resource = url.searchParams.get("resource") ?? "";
      const sel = ["client_id", "object_id", "msi_res_id"].filter((k) => url.searchParams.has(k));
      // IMDS refuses more than one selector.
      if (sel.length > 1) return text(400, JSON.stringify({ error: "invalid_request", error_description: "Multiple identity selectors" }), "application/json");
      const token = await o.azure.signer.sign({ aud: resource, ...o.azure.claims(resource, sel[0] && `${sel[0]}=${url.searchParams.get(sel[0])}`) });
      return text(200, JSON.stringify({ access_token: token, expires_in: "3599", resource, token_type: "Bearer" }), "application/json");
    }
    if (o.aws) {
      if (req.method === "PUT" && url.pathname === "/latest/api/token") {
        const t = randomBytes(16).toString("hex");
        sessions.add(t);
        return text(200, t);
      }
      if (!sessions.has(String(req.headers["x-aws-ec2-metadata-token"] ?? ""))) return text(401, "");
      if (url.pathname === "/latest/meta-data/iam/security-credentials/") return text(200, o.aws.role);
      if (url.pathname === `/latest/meta-data/iam/security-credentials/${o.aws.role}`)
        return text(200, JSON.stringify({ Code: "Success", Type: "AWS-HMAC", AccessKeyId: o.aws.accessKeyId, SecretAccessKey: o.aws.secretAccessKey, Token: o.aws.token, Expiration: new Date(Date.now() + 3600_000).toISOString() }), "application/json");
      if (url.pathname === "/latest/meta-data/placement/region") return text(200, o.aws.region);
    }
    text(404, "not found");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, hostPort: `127.0.0.1:${port}`, hits, close: () => new Promise((r) => server.close(() => r())) };
};
