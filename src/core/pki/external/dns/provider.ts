/**
 * How a dns-01 challenge (RFC 8555 8.4) gets its TXT record published: one small interface, one file per provider
 * (STYLE.md rule 6). The worker calls present() before answering the challenge and cleanup() once the order is
 * decided, whatever the outcome.
 */
export interface DnsProvider {
  /** Publishes `value` as a TXT record at `fqdn` (e.g. `_acme-challenge.www.example.com`). */
  present(fqdn: string, value: string): Promise<void>;
  /** Removes exactly that TXT record; other values at the same name stay (two orders may share a name). */
  cleanup(fqdn: string, value: string): Promise<void>;
}

/**
 * The DNS server refused the change for good (REFUSED, NOTAUTH, NOTZONE…, or a name outside the provider's zone):
 * retrying the same UPDATE cannot help, so the request fails at once instead of waiting for its deadline.
 */
export class DnsRefusedError extends Error {
  constructor(message: string) { super(message); this.name = "DnsRefusedError"; }
}
