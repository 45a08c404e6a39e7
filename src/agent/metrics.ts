import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Prometheus metrics and the health endpoints of an agent process. Each agent run owns a fresh
 * Registry, so tests and `kms dev` can run several in one process.
 *
 * Five series with at most one label do not need a metrics library: this is the Prometheus text
 * format (0.0.4) written out directly, in the shape prom-client wrote it. prom-client cost the agent
 * about 5 MB of resident memory for these few lines (docs/cert-agent.md, "Resource use").
 */

type Labels = Record<string, string>;

// Exposition format escaping: `\` and newlines in HELP; also `"` in label values.
const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const formatValue = (v: number) => (Number.isNaN(v) ? "Nan" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v));

class Metric {
  /** Values by their rendered label set ("" when the metric has no labels). */
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly type: "counter" | "gauge", private readonly labelNames: readonly string[]) {
    if (labelNames.length === 0) this.values.set("", 0);
  }
  protected key(labels: Labels | undefined): string {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(labels ?? {})) {
      if (!this.labelNames.includes(k)) throw new Error(`Added label "${k}" is not included in initial labelset: ${JSON.stringify(this.labelNames)}`);
      parts.push(`${k}="${escapeLabel(String(v))}"`);
    }
    return parts.length ? `{${parts.join(",")}}` : "";
  }
  protected update(labels: Labels | undefined, f: (old: number) => number): void {
    const k = this.key(labels);
    this.values.set(k, f(this.values.get(k) ?? 0));
  }
  get(labels?: Labels): number | undefined {
    return this.values.get(this.key(labels));
  }
  render(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    for (const [k, v] of this.values) out += `${this.name}${k} ${formatValue(v)}\n`;
    return out;
  }
}

export class Counter extends Metric {
  constructor(o: { name: string; help: string; labelNames?: readonly string[]; registers?: Registry[] }) {
    super(o.name, o.help, "counter", o.labelNames ?? []);
    for (const r of o.registers ?? []) r.register(this);
  }
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error("It is not possible to decrease a counter");
    this.update(labels, (v) => v + by);
  }
}

export class Gauge extends Metric {
  constructor(o: { name: string; help: string; labelNames?: readonly string[]; registers?: Registry[] }) {
    super(o.name, o.help, "gauge", o.labelNames ?? []);
    for (const r of o.registers ?? []) r.register(this);
  }
  /** `set(value)` for a metric without labels, `set(labels, value)` otherwise (prom-client's signatures). */
  set(labelsOrValue: Labels | number, value?: number): void {
    if (typeof labelsOrValue === "number") this.update(undefined, () => labelsOrValue);
    else this.update(labelsOrValue, () => value!);
  }
}

export class Registry {
  readonly contentType = "text/plain; version=0.0.4; charset=utf-8";
  private readonly metricsList: Metric[] = [];
  register(m: Metric): void {
    if (this.metricsList.some((x) => x.name === m.name)) throw new Error(`A metric with the name ${m.name} has already been registered.`);
    this.metricsList.push(m);
  }
  async metrics(): Promise<string> {
    return this.metricsList.map((m) => m.render()).join("\n");
  }
}

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
