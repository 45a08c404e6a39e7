import { test } from "node:test";
import assert from "node:assert/strict";
import { acmeOptionsFromEnv, parseHostPort } from "../../../src/core/acme/options.js";

const cases: { name: string; raw: string; port?: number; host?: string; defaultPort?: number; error?: boolean }[] = [
  { name: "ipv4 and port", raw: "127.0.0.1:5002", host: "127.0.0.1", port: 5002 },
  { name: "name and port", raw: "localhost:80", host: "localhost", port: 80 },
  { name: "bracketed ipv6", raw: "[::1]:53", host: "::1", port: 53 },
  { name: "default port", raw: "10.0.0.53", defaultPort: 53, host: "10.0.0.53", port: 53 },
  { name: "port required", raw: "10.0.0.53", error: true },
  { name: "port out of range", raw: "127.0.0.1:70000", error: true },
  { name: "bare ipv6 is ambiguous", raw: "::1:53", error: true },
  { name: "brackets around a name", raw: "[localhost]:53", error: true },
];
for (const c of cases)
  test(`host:port, ${c.name}`, () => {
    if (c.error) return assert.throws(() => parseHostPort(c.raw, "KMS_X", c.defaultPort), /KMS_X: ".*" is not host:port/);
    assert.deepEqual(parseHostPort(c.raw, "KMS_X", c.defaultPort), { host: c.host, port: c.port });
  });

test("environment: off by default; the override and resolvers are parsed; a bad value names its variable", () => {
  assert.equal(acmeOptionsFromEnv({}).http01Override, undefined);
  const o = acmeOptionsFromEnv({ KMS_ACME_HTTP01_OVERRIDE: "127.0.0.1:5002", KMS_ACME_DNS_RESOLVER: "127.0.0.1:5353, 10.0.0.53", KMS_ACME_ORDERS_PER_HOUR: "5" });
  assert.deepEqual(o.http01Override, { host: "127.0.0.1", port: 5002 });
  assert.deepEqual(o.dnsResolvers, ["127.0.0.1:5353", "10.0.0.53"]);
  assert.equal(o.ordersPerHour, 5);
  assert.throws(() => acmeOptionsFromEnv({ KMS_ACME_DNS_RESOLVER: "1.2.3.4:x" }), /KMS_ACME_DNS_RESOLVER/);
  assert.throws(() => acmeOptionsFromEnv({ KMS_ACME_ORDERS_PER_HOUR: "0" }), /KMS_ACME_ORDERS_PER_HOUR/);
  assert.equal(acmeOptionsFromEnv({}).tlsAlpn01Override, undefined);
  assert.deepEqual(acmeOptionsFromEnv({ KMS_ACME_TLSALPN01_OVERRIDE: "[::1]:5001" }).tlsAlpn01Override, { host: "::1", port: 5001 });
  assert.throws(() => acmeOptionsFromEnv({ KMS_ACME_TLSALPN01_OVERRIDE: "5001" }), /KMS_ACME_TLSALPN01_OVERRIDE/);
});
