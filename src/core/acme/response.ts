/** What an ACME operation hands back to the route: the body plus the headers RFC 8555 gives meaning to. */
export interface AcmeResponse {
  /** 200 unless said otherwise (201 for created accounts and orders). */
  status?: number;
  /** JSON object, PEM text (certificates) or nothing. */
  body?: unknown;
  /** Default application/json; certificates are application/pem-certificate-chain. */
  contentType?: string;
  /** The resource URL of a created or found account or order (RFC 8555 7.3, 7.4). */
  location?: string;
  /** `Link: <url>;rel="up"` from a challenge to its authorization and the like. */
  links?: { url: string; rel: string }[];
  /** Seconds; sent while something is still processing (RFC 8555 8.2) and with renewalInfo (RFC 9773 4.2). */
  retryAfter?: number;
}
