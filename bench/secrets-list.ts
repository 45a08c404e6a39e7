/**
 * Listing 1,000 secrets through `GET /api/v3/secrets/raw` on a real `kms server`, against a bare Fastify
 * process answering the same JSON bytes, both driven by the same closed-loop keep-alive load generator
 * (bench/lib/load.ts). Prints both throughputs and the ratio (issue 2 target: >= 0.5). Never fails on a
 * number: benchmarks are not tests.
 *
 *   npx tsx bench/secrets-list.ts [--secrets 1000] [--duration 10] [--clients 16] [--database-url postgres://...]
 *                                 [--write-rate N]
 *
 * `--write-rate N` also updates one secret N times a second during the kms run, so that list answers keep
 * going stale and are rebuilt (the server caches finished answers until the project changes): the
 * cold-path figure.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatResult, runLoad } from "./lib/load.js";
import { api, createUaIdentity, login, startServer } from "../test/helpers/server.js";

const { values: args } = parseArgs({
  options: {
    secrets: { type: "string", default: "1000" },
    duration: { type: "string", default: "10" },
    clients: { type: "string", default: "16" },
    "database-url": { type: "string" },
    "write-rate": { type: "string", default: "0" },
  },
});
const SECRETS = Number(args.secrets);
const DURATION = Number(args.duration) * 1000;
const CLIENTS = Number(args.clients);
const WRITE_RATE = Number(args["write-rate"]);
const log = (s = "") => process.stdout.write(s + "\n");
const work = mkdtempSync(join(tmpdir(), "kms-bench-secrets-"));
const children: ChildProcess[] = [];

const spawnBare = (file: string) =>
  new Promise<string>((res, rej) => {
    const proc = spawn(process.execPath, ["--import", "tsx", resolve(import.meta.dirname, "lib/bare-json.ts"), file], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(proc);
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    proc.once("exit", (code) => rej(new Error(`bare server exited with ${code}`)));
  });

/** Runs `n` async jobs with at most `width` in flight. */
const pooled = async (n: number, width: number, job: (i: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < n) await job(next++); }));
};

const server = await startServer({ databaseUrl: args["database-url"] });
try {
  log(`kms secrets list benchmark: ${SECRETS} secrets, ${CLIENTS} clients, ${DURATION / 1000} s per run, ${cpus().length} CPUs, ` +
    `${args["database-url"] ? "PostgreSQL" : "SQLite"}`);
  const project = (await api(server.address, "POST", "/api/v1/projects", { token: server.adminToken, body: { projectName: "bench", slug: "bench-secrets" } })).body.project;
  // Read as an ordinary project member, not the organization admin: the membership check is part of the cost.
  const reader = await createUaIdentity(server, "bench-reader");
  await api(server.address, "POST", `/api/v1/projects/${project.id}/memberships/identities/${reader.identityId}`, {
    token: server.adminToken, body: { roles: [{ role: "viewer", isTemporary: false }] },
  });
  const token = await login(server.address, reader.clientId, reader.clientSecret);

  const t0 = performance.now();
  await pooled(SECRETS, 8, async (i) => {
    const r = await api(server.address, "POST", `/api/v3/secrets/raw/SECRET_${String(i).padStart(4, "0")}`, {
      token: server.adminToken,
      body: { workspaceId: project.id, environment: "dev", secretValue: randomBytes(24).toString("base64url"), secretComment: i % 4 === 0 ? `comment ${i}` : "" },
    });
    if (r.status !== 200) throw new Error(`create secret ${i}: ${r.text}`);
  });
  log(`created ${SECRETS} secrets in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const url = `${server.address}/api/v3/secrets/raw?workspaceId=${project.id}&environment=dev&secretPath=%2F`;
  const headers = { authorization: `Bearer ${token}` };
  const first = await fetch(url, { headers });
  const body = Buffer.from(await first.arrayBuffer());
  const count = (JSON.parse(body.toString()) as { secrets: unknown[] }).secrets.length;
  if (first.status !== 200 || count !== SECRETS) throw new Error(`list answered ${first.status} with ${count} secrets`);
  const bodyFile = join(work, "list.json");
  writeFileSync(bodyFile, body);
  const bare = await spawnBare(bodyFile);
  log(`response body: ${body.length} bytes`);

  // Each peer gets the machine to itself while it is measured; the bare server runs last so that the kms
  // server's caches cannot be blamed on the order.
  let writes = 0;
  const writer = WRITE_RATE > 0
    ? setInterval(() => {
      writes++;
      void api(server.address, "PATCH", "/api/v3/secrets/raw/SECRET_0000", {
        token: server.adminToken, body: { workspaceId: project.id, environment: "dev", secretValue: randomBytes(24).toString("base64url") },
      });
    }, 1000 / WRITE_RATE)
    : undefined;
  const kms = await runLoad({ url, headers, concurrency: CLIENTS, durationMs: DURATION });
  if (writer) clearInterval(writer);
  log(`kms  GET /api/v3/secrets/raw  ${formatResult(kms)}${writer ? `  (${writes} writes during the run)` : ""}`);
  const ceiling = await runLoad({ url: `${bare}/api/v3/secrets/raw`, concurrency: CLIENTS, durationMs: DURATION });
  log(`bare fastify, same bytes       ${formatResult(ceiling)}`);
  log(`ratio kms / bare: ${(kms.rate / ceiling.rate).toFixed(2)}  (target >= 0.5)`);
} finally {
  for (const c of children) c.kill("SIGTERM");
  await server.cleanup();
  rmSync(work, { recursive: true, force: true });
}
