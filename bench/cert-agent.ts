/**
 * One certificate agent managing 100 certificates against a local server (issue 4's benchmark):
 *   - time from start to the first certificate on disk, and to all 100  (target: first ≤ 1 s)
 *   - resident memory after settling, against a bare `node -e 'setInterval(()=>{},1e9)'`  (target ≤ 1.5×)
 *   - CPU used over 60 idle seconds  (target: near zero)
 * The agent runs as a real process from the release bundle (dist/, as `npm ci` builds it), the way the
 * systemd unit in contrib/ runs it (with the unit's node flags: a small young generation, --jitless). Run: npm run bench -- cert-agent   (or `node --import tsx bench/cert-agent.ts IDLE_SECONDS`)
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, startServer } from "../test/helpers/server.js";
import { setupPki } from "../test/helpers/pki.js";
import { unitNodeFlags } from "../test/helpers/systemd-unit.js";

const CERTS = 100;
const IDLE_S = Number(process.argv[2] ?? 60);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICKS = 100; // USER_HZ on Linux

const UNIT_NODE_FLAGS = unitNodeFlags("kms-cert-agent.service");

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
const cpuTicks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, fields 14 and 15
};
/** RSS of a process and all its descendants (tsx runs esbuild as a child). */
const treeRssKb = (pid: number): number => {
  let total = rssKb(pid);
  for (const line of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean)) total += treeRssKb(Number(line));
  return total;
};

const settle = async (p: ChildProcess, ms: number) => { await sleep(ms); return rssKb(p.pid!); };

const main = async () => {
  const server = await startServer();
  const dir = mkdtempSync(join(tmpdir(), "kms-bench-agent-"));
  try {
    const f = await setupPki(server, { projectSlug: "bench-agent" });
    writeFileSync(join(dir, "client-id"), f.clientId);
    writeFileSync(join(dir, "client-secret"), f.clientSecret);
    const entries = Array.from({ length: CERTS }, (_, i) => `
  - profile-name: "${f.profileSlug}"
    project-slug: "${f.projectSlug}"
    attributes:
      common-name: "host${i}.example.com"
      alt-names: ["host${i}.example.com"]
      ttl: "30d"
      key-algorithm: "EC_prime256v1"
      key-usages: ["digital_signature"]
      extended-key-usages: ["server_auth"]
    lifecycle:
      renew-before-expiry: "1d"
      status-check-interval: "10s"
    file-output:
      private-key: { path: "${join(dir, `c${i}.key`)}" }
      certificate: { path: "${join(dir, `c${i}.crt`)}", permission: "0644" }
      chain: { path: "${join(dir, `c${i}-chain.crt`)}", permission: "0644" }`).join("");
    writeFileSync(join(dir, "agent.yaml"), `version: v1
kms:
  address: "${server.address}"
auth:
  type: universal-auth
  config:
    client-id: "${join(dir, "client-id")}"
    client-secret: "${join(dir, "client-secret")}"
certificates:${entries}
`);

    // The release artifact: the esbuild bundle, as `npm ci` builds it, run by plain node.
    execFileSync(process.execPath, [join(REPO, "scripts/build.mjs")], { cwd: REPO });
    const t0 = performance.now();
    // With the node flags of contrib/kms-cert-agent.service, read from the unit so the two cannot drift apart.
    const agent = spawn(process.execPath, [...UNIT_NODE_FLAGS, join(REPO, "dist/kms.mjs"), "cert-manager", "agent", "--config", join(dir, "agent.yaml")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    agent.stderr!.on("data", (d) => { stderr += d; });
    let first = 0;
    let all = 0;
    while (!all) {
      if (agent.exitCode !== null) throw new Error(`agent exited:\n${stderr}`);
      const done = Array.from({ length: CERTS }, (_, i) => existsSync(join(dir, `c${i}.crt`))).filter(Boolean).length;
      if (done && !first) first = performance.now() - t0;
      if (done === CERTS) all = performance.now() - t0;
      else if (performance.now() - t0 > 120_000) throw new Error(`only ${done} of ${CERTS} certificates after 120 s:\n${stderr.slice(-2000)}`);
      await sleep(5);
    }

    const bare = spawn(process.execPath, ["-e", "setInterval(()=>{},1e9)"], { stdio: "ignore" });
    const agentRss = await settle(agent, 10_000);
    const agentTreeRss = treeRssKb(agent.pid!);
    const bareRss = rssKb(bare.pid!);
    const before = cpuTicks(agent.pid!);
    await sleep(IDLE_S * 1000);
    const idleCpuS = (cpuTicks(agent.pid!) - before) / TICKS;
    agent.kill("SIGTERM");
    bare.kill("SIGTERM");

    const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
    console.log(`one agent, ${CERTS} certificates (EC P-256, server-generated keys), local server, node ${UNIT_NODE_FLAGS.join(" ")}`);
    console.log(`  start → first certificate on disk   ${first.toFixed(0)} ms   (target ≤ 1000 ms: ${first <= 1000 ? "met" : "NOT met"})`);
    console.log(`  start → all ${CERTS} on disk             ${all.toFixed(0)} ms`);
    console.log(`  resident memory, agent process      ${mb(agentRss)}${agentTreeRss !== agentRss ? `   (with child processes: ${mb(agentTreeRss)})` : ""}`);
    console.log(`  resident memory, bare node          ${mb(bareRss)}`);
    console.log(`  ratio agent / bare                  ${(agentRss / bareRss).toFixed(2)}×   (target ≤ 1.5×: ${agentRss / bareRss <= 1.5 ? "met" : "NOT met"})`);
    console.log(`  CPU over ${IDLE_S} idle seconds            ${idleCpuS.toFixed(2)} s  (${((idleCpuS / IDLE_S) * 100).toFixed(2)}% of one core)`);
  } finally {
    await server.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
};

await main();
