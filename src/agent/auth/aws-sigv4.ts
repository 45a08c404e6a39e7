import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import type { SignatureV4 } from "@smithy/signature-v4";

/**
 * SigV4 for sts:GetCallerIdentity through @smithy/signature-v4 (the AWS SDK's own signer). It wants a hash
 * constructor; node:crypto provides one in a few lines, so we need no browser-oriented hash package.
 */

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): Buffer =>
  typeof d === "string" ? Buffer.from(d, "utf8") : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d);

export class NodeSha256 {
  private h: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.h = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(this.secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.fresh();
  }
}

export interface AwsCredentials { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

export const GET_CALLER_IDENTITY_BODY = "Action=GetCallerIdentity&Version=2011-06-15";

/** The signed request as api.md 2.6 carries it: method, base64 body, base64 JSON of the signed headers. */
export const signGetCallerIdentity = async (endpoint: string, region: string, credentials: AwsCredentials, now: Date) => {
  const url = new URL(endpoint);
  // Loaded on first use: most agents never sign an AWS request, and every agent pays for an import at start.
  const { SignatureV4 } = await import("@smithy/signature-v4");
  const signer = new SignatureV4({ service: "sts", region, credentials, sha256: NodeSha256 });
  const signed = await signer.sign(
    {
      method: "POST", protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined, path: url.pathname || "/",
      headers: { host: url.host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" }, body: GET_CALLER_IDENTITY_BODY,
    } as Parameters<SignatureV4["sign"]>[0],
    { signingDate: now },
  );
  return {
    iamHttpRequestMethod: "POST",
    iamRequestBody: Buffer.from(GET_CALLER_IDENTITY_BODY).toString("base64"),
    iamRequestHeaders: Buffer.from(JSON.stringify(signed.headers)).toString("base64"),
  };
};
