/**
 * The secrets agent against a real `kms server` and a real `kms agent` process (not run by npm test):
 *
 *  1. secret change → destination file updated: p50 / p95 / max over N changes, with the change stream
 *     (polling 5 min, so every update is pushed) against polling alone (1 s interval, stream off);
 *  2. renders per second of a `.env` template over 1,000 secrets: end to end (list request + render +
 *     compare) and the engine alone on the same data, in this process.
 *
 *   npx tsx bench/secrets-agent.ts [--changes 100] [--secrets 1000] [--render-seconds 5]
 *
 * Prints figures and the push/polling ratio; never fails on a number (benchmarks are not tests).
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createKmsClient } from "../src/client/kms-client.js";
import { systemClock } from "../src/core/clock.js";
import { silentLogger } from "../src/agent/log.js";
import { DEFAULT_RETRY_POLICY } from "../src/agent/retry.js";
import { newRenderContext } from "../src/agent/secrets/functions.js";
import { createRenderer } from "../src/agent/secrets/render.js";
import { createSecretSource } from "../src/agent/secrets/source.js";
import type { SecretSource } from "../src/agent/secrets/source.js";
import type { TemplateEntry } from "../src/agent/secrets/config.js";
import { api, login, startServer } from "../test/helpers/server.js";
import { authYaml, makeFixture, setSecret, spawnAgent, writeConfig } from "../test/e2e/secrets-agent-harness.js";
import type { Fixture } from "../test/e2e/secrets-agent-harness.js";

const { values: args } = parseArgs({
  options: {
    changes: { type: "string", default: "100" },
    secrets: { type: "string", default: "1000" },
    "render-seconds": { type: "string", default: "5" },
  },
});
const CHANGES = Number(args.changes);
const SECRETS = Number(args.secrets);
const RENDER_MS = Number(args["render-seconds"]) * 1000;
const log = (s = "") => process.stdout.write(`${s}\n`);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(0)} ms  p95 ${pct(xs, 95).toFixed(0)} ms  max ${Math.max(...xs).toFixed(0)} ms`;

/** Reads the file until it holds `want`; returns the ms it took (2 ms resolution). */
const waitFor = async (path: string, want: string, t0: number, timeoutMs = 10_000): Promise<number> => {
  for (;;) {
    if (existsSync(path) && readFileSync(path, "utf8") === want) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`no update of ${path} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

const latency = async (s: Awaited<ReturnType<typeof startServer>>, f: Fixture, mode: "push" | "poll"): Promise<number[]> => {
  const key = `LAT_${mode.toUpperCase()}`;
  await setSecret(s, f.projectId, key, "0");
  const dest = join(f.dir, `latency-${mode}`);
  const cfg = writeConfig(f, `kms:
  address: ${s.address}
  change-stream: ${mode === "push"}
${authYaml(f)}templates:
  - template-content: '{{ (getSecretByName "${f.projectId}" "dev" "/" "${key}").Value }}'
    destination-path: ${dest}
    config:
      polling-interval: ${mode === "push" ? "5m" : "1s"}
`, `latency-${mode}.yaml`);
  const agent = spawnAgent(["--config", cfg]);
  try {
    await waitFor(dest, "0", performance.now(), 20_000);
    if (mode === "push") await agent.waitFor(/change stream connected/);
    const out: number[] = [];
    for (let i = 1; i <= CHANGES; i++) {
      // Changes land at a random moment of the polling cycle, as real ones do.
      await new Promise((r) => setTimeout(r, Math.random() * 1_000));
      // t0 includes the PATCH itself: the figure is "a write returns → the file has it", end to end.
      const t0 = performance.now();
      const r = await api(s.address, "PATCH", `/api/v3/secrets/raw/${key}`, { token: s.adminToken, body: { workspaceId: f.projectId, environment: "dev", secretValue: String(i) } });
      if (r.status !== 200) throw new Error(`update: ${r.text}`);
      out.push(await waitFor(dest, String(i), t0));
    }
    return out;
  } finally {
    await agent.stop();
  }
};

const renders = async (label: string, entry: TemplateEntry, source: SecretSource): Promise<{ perSecond: number; bytes: number }> => {
  const r = createRenderer(entry);
  let n = 0;
  let bytes = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < RENDER_MS) {
    bytes = Buffer.byteLength(await r.render(newRenderContext(source)));
    n++;
  }
  const perSecond = n / ((performance.now() - t0) / 1000);
  log(`  ${label.padEnd(44)} ${perSecond.toFixed(1).padStart(8)} renders/s  (${bytes} bytes each)`);
  return { perSecond, bytes };
};

const main = async () => {
  const s = await startServer({ args: ["--log-level", "error"] });
  const f = await makeFixture(s, "bench-agent");
  try {
    log(`secret change → file updated, ${CHANGES} changes each (one getSecretByName template)`);
    const push = await latency(s, f, "push");
    log(`  push (change stream, polling 5m)   ${fmt(push)}`);
    const poll = await latency(s, f, "poll");
    log(`  polling (1 s interval, no stream)  ${fmt(poll)}`);
    log(`  push is ${(pct(poll, 50) / pct(push, 50)).toFixed(1)}x faster at p50, ${(pct(poll, 95) / pct(push, 95)).toFixed(1)}x at p95`);

    log();
    log(`rendering a .env template over ${SECRETS} secrets for ${RENDER_MS / 1000} s`);
    const created = performance.now();
    let next = 0;
    // Eight writers at a time: SQLite serialises writes, more in flight only queue.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < SECRETS) {
          const i = next++;
          await api(s.address, "POST", `/api/v3/secrets/raw/BULK_${String(i).padStart(5, "0")}`, {
            token: s.adminToken,
            body: { workspaceId: f.projectId, environment: "staging", secretPath: "/", secretValue: `value-${i}-${"x".repeat(24)}` },
          });
        }
      }),
    );
    log(`  (${SECRETS} secrets created in ${((performance.now() - created) / 1000).toFixed(1)} s)`);
    const entry = { "template-content": `{{- with secret "${f.projectId}" "staging" "/" }}\n{{- range . }}\n{{ .Key }}={{ .Value }}\n{{- end }}\n{{- end }}\n` } as TemplateEntry;
    const token = await login(s.address, readFileSync(f.clientIdFile, "utf8"), readFileSync(f.clientSecretFile, "utf8"));
    const client = createKmsClient({ address: s.address });
    const live = createSecretSource({ client, tokens: { withToken: (fn) => fn(token) }, retry: DEFAULT_RETRY_POLICY, clock: systemClock, logger: silentLogger });
    const e2e = await renders("end to end (GET /api/v4/secrets + render)", entry, live);
    const body = await live.list({ projectId: f.projectId, environment: "staging", secretPath: "/", recursive: false, expandSecretReferences: true });
    const memory: SecretSource = { invalidate: () => {}, list: async () => body, get: async () => body.secrets[0]!, projectIdBySlug: async () => f.projectId };
    const engine = await renders("engine only (data in memory)", entry, memory);
    log(`  the request is ${((1 / e2e.perSecond - 1 / engine.perSecond) / (1 / e2e.perSecond) * 100).toFixed(0)}% of an end-to-end render`);
    await client.close();
  } finally {
    await s.cleanup();
    rmSync(f.dir, { recursive: true, force: true });
  }
};

await main();
