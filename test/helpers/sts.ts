import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local AWS STS that answers sts:GetCallerIdentity only for requests whose SigV4 signature verifies with a known
 * secret key. The verifier is written here from the SigV4 specification, independently of the signer the agent
 * uses (@smithy/signature-v4), so a signing mistake in the agent shows up as SignatureDoesNotMatch.
 */

export interface StsPrincipal { secretAccessKey: string; arn: string; account: string; userId: string; sessionToken?: string }

export interface StsServer {
  url: string;
  add(accessKeyId: string, p: StsPrincipal): void;
  requests: number;
  close(): Promise<void>;
}

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const hmac = (key: Buffer | string, s: string) => createHmac("sha256", key).update(s).digest();

const errorXml = (code: string, message: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;

const okXml = (p: StsPrincipal) =>
  `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${p.arn}</Arn><UserId>${p.userId}</UserId><Account>${p.account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></GetCallerIdentityResponse>`;

/** Verifies a SigV4 request; returns an STS error code and message, or undefined when it is good. */
export const verifySigV4 = (req: { method: string; path: string; headers: Record<string, string | string[] | undefined>; body: string }, secretFor: (akid: string) => StsPrincipal | undefined, nowMs: number) => {
  const auth = String(req.headers.authorization ?? "");
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { code: "IncompleteSignature", message: "Authorization header is not a SigV4 signature" };
  const [, akid, date, region, service, signedHeaders, signature] = m as unknown as string[];
  const p = secretFor(akid!);
  if (!p) return { code: "InvalidClientTokenId", message: "The security token included in the request is invalid." };
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const at = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
  if (Number.isNaN(at) || !amzDate.startsWith(date!)) return { code: "IncompleteSignature", message: "X-Amz-Date is missing or does not match the credential scope" };
  if (Math.abs(nowMs - at) > 15 * 60_000) return { code: "SignatureDoesNotMatch", message: "Signature expired: the request time is more than 15 minutes from the current time" };
  if (p.sessionToken && req.headers["x-amz-security-token"] !== p.sessionToken) return { code: "InvalidClientTokenId", message: "The security token included in the request is invalid." };
  const names = signedHeaders!.split(";");
  if (!names.includes("host")) return { code: "SignatureDoesNotMatch", message: "host must be signed" };
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const payloadHash = (req.headers["x-amz-content-sha256"] as string | undefined) ?? sha256(req.body);
  if (payloadHash !== sha256(req.body)) return { code: "SignatureDoesNotMatch", message: "payload hash mismatch" };
  const [path, query = ""] = req.path.split("?");
  const canonicalRequest = [req.method, path, query.split("&").filter(Boolean).sort().join("&"), canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${p.secretAccessKey}`, date!), region!), service!), "aws4_request");
  const expected = createHmac("sha256", key).update(toSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature!, "hex")))
    return { code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match the signature you provided." };
  return undefined;
};

export const startStsServer = async (now: () => number = Date.now): Promise<StsServer> => {
  const principals = new Map<string, StsPrincipal>();
  let requests = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      requests++;
      const send = (status: number, xml: string) => { res.writeHead(status, { "content-type": "text/xml" }); res.end(xml); };
      if (new URLSearchParams(body).get("Action") !== "GetCallerIdentity") return send(400, errorXml("InvalidAction", "only GetCallerIdentity"));
      const bad = verifySigV4({ method: req.method!, path: req.url!, headers: req.headers, body }, (k) => principals.get(k), now());
      if (bad) return send(403, errorXml(bad.code, bad.message));
      const akid = /Credential=([^/]+)\//.exec(String(req.headers.authorization))![1]!;
      send(200, okXml(principals.get(akid)!));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    add: (k, p) => void principals.set(k, p),
    get requests() { return requests; },
    close: () => new Promise((r) => server.close(() => r())),
  };
};
