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
