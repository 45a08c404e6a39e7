import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Gauge, Registry, createAgentMetrics } from "../../src/agent/metrics.js";

test("metrics are written in the Prometheus text format, as prom-client wrote them", async () => {
  const registry = new Registry();
  const g = new Gauge({ name: "a_ts", help: "Expiry \\ of\nthe", labelNames: ["name"], registers: [registry] });
  const c = new Counter({ name: "b_total", help: "B", labelNames: ["name"], registers: [registry] });
  new Counter({ name: "c_total", help: "C", labelNames: ["name"], registers: [registry] });
  const a = new Gauge({ name: "auth", help: "1 while", registers: [registry] });
  g.set({ name: 'x"y\\z\nw' }, 1700000000);
  g.set({ name: "b" }, 17.5);
  g.set({ name: "b" }, 3);
  c.inc({ name: "x" });
  c.inc({ name: "x" });
  c.inc({ name: "é" });
  a.set(1);
  a.set(0);
  assert.equal(registry.contentType, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(
    await registry.metrics(),
    '# HELP a_ts Expiry \\\\ of\\nthe\n# TYPE a_ts gauge\na_ts{name="x\\"y\\\\z\\nw"} 1700000000\na_ts{name="b"} 3\n\n' +
      '# HELP b_total B\n# TYPE b_total counter\nb_total{name="x"} 2\nb_total{name="é"} 1\n\n' +
      "# HELP c_total C\n# TYPE c_total counter\n\n" +
      "# HELP auth 1 while\n# TYPE auth gauge\nauth 0\n",
  );
  assert.throws(() => c.inc({ other: "x" }), /not included in initial labelset/);
  assert.throws(() => new Counter({ name: "b_total", help: "B", registers: [registry] }), /already been registered/);
});

test("the agent's series", async () => {
  const m = createAgentMetrics();
  m.notAfter.set({ name: "svc.example.com" }, 1_900_000_000);
  m.issuances.inc({ name: "svc.example.com" });
  m.authenticated.set(1);
  const text = await m.registry.metrics();
  assert.match(text, /kms_agent_certificate_not_after_timestamp_seconds\{name="svc.example.com"\} 1900000000/);
  assert.match(text, /kms_agent_certificate_issuances_total\{name="svc.example.com"\} 1/);
  assert.match(text, /# TYPE kms_agent_certificate_renewals_total counter/);
  assert.match(text, /kms_agent_authenticated 1/);
});
