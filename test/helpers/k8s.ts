import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { opensslOk, scratch } from "./openssl.js";

/** A self-signed server certificate for 127.0.0.1 (and localhost), made with openssl. */
export const selfSignedServerCert = (cn = "127.0.0.1") => {
  const s = scratch("kms-tls-");
  opensslOk("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", `/CN=${cn}`,
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", s.path("key.pem"), "-out", s.path("cert.pem"));
  return { dir: s.dir, certPath: s.path("cert.pem"), keyPath: s.path("key.pem"), cert: readFileSync(s.path("cert.pem"), "utf8"), key: readFileSync(s.path("key.pem"), "utf8") };
};

export interface ServiceAccountToken { namespace: string; name: string; audiences?: string[]; expired?: boolean }

export interface TokenReviewServer {
  url: string;
  caCert: string;
  reviewerJwt: string;
  /** Every TokenReview body received, for assertions. */
  reviews: unknown[];
  add(token: string, sa: ServiceAccountToken): void;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) => new Promise<string>((res) => { let b = ""; req.on("data", (d) => (b += d)); req.on("end", () => res(b)); });
const json = (res: ServerResponse, status: number, body: unknown) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(body)); };

/**
 * The Kubernetes TokenReview API (authentication.k8s.io/v1) over HTTPS, as the API server answers it: the caller
 * must bear the reviewer token; unknown, expired or wrong-audience tokens get `authenticated: false` with the
 * API server's error text.
 */
export const startTokenReviewServer = async (): Promise<TokenReviewServer> => {
  const tls = selfSignedServerCert();
  const reviewerJwt = `reviewer-${Math.random().toString(36).slice(2)}`;
  const tokens = new Map<string, ServiceAccountToken>();
  const reviews: unknown[] = [];
  const server = createHttpsServer({ cert: tls.cert, key: tls.key }, async (req, res) => {
    const body = await readBody(req);
    if (req.method !== "POST" || req.url !== "/apis/authentication.k8s.io/v1/tokenreviews") return json(res, 404, { kind: "Status", message: "not found" });
    if (req.headers.authorization !== `Bearer ${reviewerJwt}`) return json(res, 401, { kind: "Status", status: "Failure", message: "Unauthorized", code: 401 });
    const review = JSON.parse(body) as { spec: { token: string; audiences?: string[] } };
    reviews.push(review);
    const sa = tokens.get(review.spec.token);
    const answer = (status: Record<string, unknown>) =>
      json(res, 201, { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: review.spec, status });
    if (!sa) return answer({ authenticated: false, error: "[invalid bearer token, square/go-jose: error in cryptographic primitive]", user: {} });
    if (sa.expired) return answer({ authenticated: false, error: "[invalid bearer token, service account token has expired]", user: {} });
    const tokenAuds = sa.audiences ?? ["https://kubernetes.default.svc"];
    const wanted = review.spec.audiences ?? tokenAuds;
    const both = wanted.filter((a) => tokenAuds.includes(a));
    if (!both.length)
      return answer({ authenticated: false, error: `[invalid bearer token, token audiences ${JSON.stringify(tokenAuds)} is invalid for the target audiences ${JSON.stringify(wanted)}]`, user: {} });
    return answer({
      authenticated: true, audiences: both,
      user: { username: `system:serviceaccount:${sa.namespace}:${sa.name}`, uid: "0d4b1e9c", groups: ["system:serviceaccounts", `system:serviceaccounts:${sa.namespace}`] },
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`, caCert: tls.cert, reviewerJwt, reviews,
    add: (t, sa) => void tokens.set(t, sa),
    close: () => new Promise((r) => server.close(() => r())),
  };
};
