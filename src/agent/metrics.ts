import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Registry } from "prom-client";

/**
 * Prometheus metrics and the health endpoints of an agent process. Each agent run owns a fresh
 * Registry (never prom-client's global one), so tests and `kms dev` can run several in one process.
 */
export const createAgentMetrics = () => {
  const registry = new Registry();
  const notAfter = new Gauge({
    name: "kms_agent_certificate_not_after_timestamp_seconds",
    help: "Expiry (notAfter) of the certificate currently on disk, as a Unix timestamp",
    labelNames: ["name"] as const,
    registers: [registry],
  });
  const issuances = new Counter({ name: "kms_agent_certificate_issuances_total", help: "Certificates issued", labelNames: ["name"] as const, registers: [registry] });
  const renewals = new Counter({ name: "kms_agent_certificate_renewals_total", help: "Certificates renewed", labelNames: ["name"] as const, registers: [registry] });
  const failures = new Counter({
    name: "kms_agent_certificate_failures_total",
    help: "Issuances or renewals that failed after all retries",
    labelNames: ["name"] as const,
    registers: [registry],
  });
  const authenticated = new Gauge({ name: "kms_agent_authenticated", help: "1 while the agent holds a valid access token", registers: [registry] });
  return { registry, notAfter, issuances, renewals, failures, authenticated };
};
export type AgentMetrics = ReturnType<typeof createAgentMetrics>;

export interface MetricsServerOptions {
  /** `host:port`; port 0 picks a free one. */
  addr: string;
  registry: Registry;
  /** /readyz answers 200 only when this says so. */
  ready: () => boolean;
}

export const parseHostPort = (addr: string): { host: string; port: number } => {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`invalid address ${JSON.stringify(addr)}: expected host:port, e.g. 127.0.0.1:9464`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in ${JSON.stringify(addr)}`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
};

export const startMetricsServer = async (opts: MetricsServerOptions): Promise<{ address: string; close(): Promise<void>; server: Server }> => {
  const { host, port } = parseHostPort(opts.addr);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    if (path === "/metrics") {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
      );
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const ok = opts.ready();
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ready\n" : "not ready\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const a = server.address() as AddressInfo;
  const shown = a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return {
    address: shown,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    }),
  };
};
