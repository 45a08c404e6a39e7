/**
 * PKI issuance: `kms server` against cfssl (Debian golang-cfssl) on the same machine, both with an EC P-256
 * CA, driven by the same closed-loop keep-alive load generator (bench/lib/load.ts). Prints every figure and
 * each ratio against the targets of issue 3; never fails on a number (benchmarks are not tests).
 *
 *   npx tsx bench/pki-vs-cfssl.ts [--duration 10] [--rsa-duration 30] [--clients 16] [--rounds 2] [--only csr,ec,rsa,certdb,ceiling,keygen]
 *
 * RSA runs (kms, cfssl and the raw key-generation rate) last `--rsa-duration`: an RSA-2048 key takes ~75 ms of
 * one core with a long tail, so 10 s holds only ~130 keys and their rate varies by about ±10% from run to run.
 *
 * `certdb` adds cfssl with its SQLite certdb (it then records every certificate, as we always do): not a
 * target, but the like-for-like peer. The server CPU per request (from /proc) explains the ratios on two
 * shared cores better than the rates alone, which move with whatever else the machine is running.
 *
 * Needs `cfssl` (apt-get install -y golang-cfssl) and `openssl` on PATH.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createECDH, createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import BetterSqlite3 from "better-sqlite3";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatResult, runLoad, type LoadResult } from "./lib/load.js";
import { startProbe, type ProbeResult } from "./lib/probe.js";
import { api, login, startServer, type TestServer } from "../test/helpers/server.js";
import { setupPki } from "../test/helpers/pki.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    "rsa-duration": { type: "string", default: "30" },
    clients: { type: "string", default: "16" },
    rounds: { type: "string", default: "2" },
    only: { type: "string", default: "csr,ec,rsa,certdb,ceiling,keygen" },
    "cfssl-loglevel": { type: "string", default: "2" },
  },
});
const DURATION = Number(args.duration) * 1000;
const RSA_DURATION = Number(args["rsa-duration"]) * 1000;
const durationOf = (kind: Kind) => (kind === "rsa" ? RSA_DURATION : DURATION);
const CLIENTS = Number(args.clients);
const ROUNDS = Number(args.rounds);
const ONLY = new Set(args.only!.split(","));
const HERE = resolve(import.meta.dirname);
const work = mkdtempSync(join(tmpdir(), "kms-bench-"));
const children: ChildProcess[] = [];
const log = (s = "") => process.stdout.write(s + "\n");

/** Spawns a process and resolves with the first match of `ready` in its output. */
const spawnUntil = (cmd: string, argv: string[], ready: RegExp, opts: { cwd?: string } = {}) =>
  new Promise<{ proc: ChildProcess; match: RegExpExecArray }>((res, rej) => {
    const proc = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], cwd: opts.cwd });
    children.push(proc);
    let out = "";
    const timer = setTimeout(() => rej(new Error(`${cmd} did not start:\n${out}`)), 30_000);
    const on = (d: Buffer) => {
      out = (out + d.toString()).slice(-20_000);
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); res({ proc, match: m }); }
    };
    proc.stdout!.on("data", on);
    proc.stderr!.on("data", on);
    proc.on("exit", (code) => { clearTimeout(timer); rej(new Error(`${cmd} exited with ${code}:\n${out}`)); });
  });

const waitFor = async (url: string, init: RequestInit) => {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(url, init)).status < 500) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
};

// --- the peers ---------------------------------------------------------------------------------------

// cfssl's certdb schema (cfssl 1.2 certdb/sqlite/migrations), for the run where cfssl persists too.
const CFSSL_CERTDB = `
CREATE TABLE certificates (serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, ca_label blob, status blob NOT NULL,
  reason int, expiry timestamp, revoked_at timestamp, pem blob NOT NULL, PRIMARY KEY(serial_number, authority_key_identifier));
CREATE TABLE ocsp_responses (serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, body blob NOT NULL, expiry timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier));`;

/** cfssl serve with an EC P-256 CA; with `certdb`, every certificate it signs is also recorded in SQLite. */
const startCfssl = async ({ certdb }: { certdb: boolean }) => {
  const dir = join(work, certdb ? "cfssl-db" : "cfssl");
  execFileSync("mkdir", ["-p", dir]);
  writeFileSync(join(dir, "ca-csr.json"), JSON.stringify({ CN: "Bench Root CA", key: { algo: "ecdsa", size: 256 }, names: [{ O: "Bench" }] }));
  const ca = JSON.parse(execFileSync("cfssl", ["gencert", "-initca", join(dir, "ca-csr.json")], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  writeFileSync(join(dir, "ca.pem"), ca.cert);
  writeFileSync(join(dir, "ca-key.pem"), ca.key, { mode: 0o600 });
  // The same leaf shape as ours: 30 days, digitalSignature + keyEncipherment, serverAuth.
  writeFileSync(join(dir, "config.json"), JSON.stringify({
    signing: { default: { expiry: "720h", usages: ["digital signature", "key encipherment", "server auth"] } },
  }));
  const db: string[] = [];
  if (certdb) {
    const sqlite = new BetterSqlite3(join(dir, "certs.db"));
    sqlite.exec(CFSSL_CERTDB);
    sqlite.close();
    writeFileSync(join(dir, "db.json"), JSON.stringify({ driver: "sqlite3", data_source: join(dir, "certs.db") }));
    db.push("-db-config", join(dir, "db.json"));
  }
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const proc = spawn("cfssl", ["serve", "-address", "127.0.0.1", "-port", String(port), "-ca", join(dir, "ca.pem"), "-ca-key", join(dir, "ca-key.pem"),
    "-config", join(dir, "config.json"), "-loglevel", args["cfssl-loglevel"]!, ...db], { stdio: "ignore" });
  children.push(proc);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/api/v1/cfssl/sign`, { method: "POST", body: "{}" });
  const count = () => {
    if (!certdb) return undefined;
    const sqlite = new BetterSqlite3(join(dir, "certs.db"), { readonly: true });
    try { return (sqlite.prepare("SELECT count(*) AS n FROM certificates").get() as { n: number }).n; } finally { sqlite.close(); }
  };
  return { base, proc, count };
};

const startCeiling = async (bytes: number) => {
  const { proc, match } = await spawnUntil(process.execPath, ["--import", "tsx", join(HERE, "lib/bare-fastify.ts"), String(bytes)], /listening on (\S+)/);
  return { url: match[1]!, pid: proc.pid };
};

// --- measurements --------------------------------------------------------------------------------------

/** CPU time (ms) a process used so far, from /proc (Linux): the whole process and its main thread. */
const cpuOf = (pid: number | undefined): { total: number; main: number } | undefined => {
  if (!pid) return undefined;
  try {
    const ticks = (stat: string) => { const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
    return { total: ticks(readFileSync(`/proc/${pid}/stat`, "utf8")), main: ticks(readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8")) };
  } catch {
    return undefined;
  }
};

/** Runs a load and reports the server's CPU per successful request (µs), counting warm-up requests too. */
const measured = async (pid: number | undefined, run: () => Promise<LoadResult>, count: () => number) => {
  const before = cpuOf(pid);
  const n0 = count();
  const result = await run();
  const after = cpuOf(pid);
  const n = count() - n0;
  const cpu = before && after && n > 0 ? { total: ((after.total - before.total) * 1000) / n, main: ((after.main - before.main) * 1000) / n } : undefined;
  return { result, cpu };
};
const cpuText = (cpu: { total: number; main: number } | undefined, threads: boolean) =>
  cpu ? `  server cpu/request ${cpu.total.toFixed(0)} us${threads ? ` (event loop ${cpu.main.toFixed(0)} us)` : ""}` : "";

const rawKeygenRate = async (type: "rsa" | "ec", ms: number): Promise<number> => {
  const gen = () => new Promise<void>((res, rej) =>
    type === "rsa"
      ? generateKeyPair("rsa", { modulusLength: 2048, publicExponent: 0x10001 }, (e) => (e ? rej(e) : res()))
      : generateKeyPair("ec", { namedCurve: "prime256v1" }, (e) => (e ? rej(e) : res())));
  // As many in flight as libuv has threads, so every core is busy (the same pool the server uses).
  const inFlight = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  let done = 0;
  const stopAt = performance.now() + ms;
  await Promise.all(Array.from({ length: inFlight }, async () => { while (performance.now() < stopAt) { await gen(); done++; } }));
  return done / (ms / 1000);
};

/**
 * What node:crypto alone costs per certificate on this machine, one thread, no HTTP and no database: for a CSR,
 * importing its public key, checking its signature and signing the certificate; for a server-generated P-256
 * key, generating it (ECDH, as the server does) and signing. Compared with cfssl's whole server CPU per
 * request, it bounds what any Node server could reach here.
 */
const cryptoFloor = (leafKeyPem: string): { csr: number; ec: number } => {
  const issuer = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  const leaf = createPrivateKey(leafKeyPem);
  const spki = createPublicKey(leaf).export({ type: "spki", format: "der" });
  const tbs = randomBytes(450); // about a leaf TBSCertificate / CertificationRequestInfo
  const csrSig = sign("sha256", tbs, leaf);
  const cpuPer = (n: number, f: () => void) => {
    for (let i = 0; i < 200; i++) f();
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const t = process.cpuUsage(t0);
    return (t.user + t.system) / n;
  };
  const csr = cpuPer(5000, () => {
    if (!verify("sha256", tbs, createPublicKey({ key: spki, format: "der", type: "spki" }), csrSig)) throw new Error("floor: bad signature");
    sign("sha256", tbs, issuer);
  });
  const ec = cpuPer(5000, () => {
    createECDH("prime256v1").generateKeys();
    sign("sha256", tbs, issuer);
  });
  return { csr, ec };
};

type Kind = "csr" | "ec" | "rsa";
type Peer = "cfssl" | "cfssl+db" | "kms";
interface Run { result: LoadResult; cpu?: { total: number; main: number } }
interface Round {
  runs: Partial<Record<Peer, Partial<Record<Kind, Run>>>>;
  ceiling?: Run;
  rsaKeygen?: number;
  ecKeygen?: number;
  probe?: ProbeResult;
}

const main = async () => {
  log(`# PKI issuance: kms vs cfssl  (${cpus().length} CPUs, ${availableParallelism()} usable; ${CLIENTS} keep-alive clients, ${DURATION / 1000} s per run, RSA ${RSA_DURATION / 1000} s, ${ROUNDS} rounds)`);
  log(`node ${process.version}; ${execFileSync("cfssl", ["version"], { encoding: "utf8" }).split("\n")[0]}`);

  // A P-256 CSR, the same for every server (none caches by CSR).
  const csrPem = (() => {
    execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(work, "leaf.key"),
      "-subj", "/CN=bench.example.com", "-addext", "subjectAltName=DNS:bench.example.com", "-out", join(work, "leaf.csr")], { stdio: "ignore" });
    return readFileSync(join(work, "leaf.csr"), "utf8");
  })();

  const cfssl = await startCfssl({ certdb: false });
  const cfsslDb = ONLY.has("certdb") ? await startCfssl({ certdb: true }) : undefined;
  const kms: TestServer = await startServer();
  const pki = await setupPki(kms, { projectSlug: "bench", keyAlgorithm: "EC_prime256v1" });
  const token = await login(kms.address, pki.clientId, pki.clientSecret);
  log(`cfssl serve ${cfssl.base} (EC P-256 root, no database)${cfsslDb ? `   cfssl+db ${cfsslDb.base} (same, recording every certificate in its SQLite certdb)` : ""}`);
  log(`kms server ${kms.address} (SQLite; EC P-256 root + intermediate, issuing from the intermediate; token auth, policy, inventory and audit on every request)`);

  const usage = { keyUsages: ["digital_signature", "key_encipherment"], extendedKeyUsages: ["server_auth"], ttl: "30d" };
  const names = { commonName: "bench.example.com", altNames: [{ type: "dns_name", value: "bench.example.com" }] };
  // What the certificate agent sends: it leaves the root out of the chain unless told otherwise (api.md 7.6).
  const kmsBody: Record<Kind, string> = {
    csr: JSON.stringify({ profileId: pki.profileId, csr: csrPem, attributes: usage, removeRootsFromChain: true }),
    ec: JSON.stringify({ profileId: pki.profileId, attributes: { ...names, ...usage, keyAlgorithm: "EC_prime256v1" }, removeRootsFromChain: true }),
    rsa: JSON.stringify({ profileId: pki.profileId, attributes: { ...names, ...usage, keyAlgorithm: "RSA_2048" }, removeRootsFromChain: true }),
  };
  const cfsslReq = (algo: string, size: number) => JSON.stringify({ request: { CN: "bench.example.com", hosts: ["bench.example.com"], key: { algo, size } } });
  const cfsslBody: Record<Kind, { path: string; body: string }> = {
    csr: { path: "/api/v1/cfssl/sign", body: JSON.stringify({ certificate_request: csrPem, hosts: ["bench.example.com"] }) },
    ec: { path: "/api/v1/cfssl/newcert", body: cfsslReq("ecdsa", 256) },
    rsa: { path: "/api/v1/cfssl/newcert", body: cfsslReq("rsa", 2048) },
  };
  const cfsslOk = (b: Buffer) => { if (!b.includes('"success":true')) throw new Error(`cfssl failed: ${b.toString().slice(0, 300)}`); };

  const inventory = async () => (await api(kms.address, "GET", `/api/v1/cert-manager/certificates?projectId=${pki.projectId}&limit=1`, { token: kms.adminToken })).body.totalCount as number;
  const before = await inventory();
  let issued = 0;
  let cfsslDbSigned = 0;
  const sample = await api(kms.address, "POST", "/api/v1/cert-manager/certificates", { token, body: JSON.parse(kmsBody.csr) });
  if (sample.status !== 200) throw new Error(`kms issuance failed: ${sample.text}`);
  issued++;
  const ceiling = ONLY.has("ceiling") ? await startCeiling(Buffer.byteLength(sample.text)) : undefined;
  const floor = cryptoFloor(readFileSync(join(work, "leaf.key"), "utf8"));
  log(`node:crypto alone per certificate (one thread, no HTTP, no database): CSR import+verify+sign ${floor.csr.toFixed(0)} us, EC P-256 keygen+sign ${floor.ec.toFixed(0)} us`);

  const runCfssl = async (peer: { base: string; proc: ChildProcess }, kind: Kind, onSigned: () => void) => {
    let n = 0;
    return measured(peer.proc.pid, () => runLoad({
      url: peer.base + cfsslBody[kind].path, body: cfsslBody[kind].body, concurrency: CLIENTS, durationMs: durationOf(kind),
      onBody: (b) => { cfsslOk(b); n++; onSigned(); },
    }), () => n);
  };

  const rounds: Round[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    log(`\n## round ${round}`);
    const r: Round = { runs: { cfssl: {}, "cfssl+db": {}, kms: {} } };
    for (const kind of ["csr", "ec", "rsa"] as const) {
      if (!ONLY.has(kind)) continue;
      const cf = await runCfssl(cfssl, kind, () => {});
      r.runs.cfssl![kind] = cf;
      log(`cfssl    ${kind.padEnd(4)} ${formatResult(cf.result)}${cpuText(cf.cpu, false)}`);
      if (cfsslDb && kind !== "rsa") {
        const cd = await runCfssl(cfsslDb, kind, () => { cfsslDbSigned++; });
        r.runs["cfssl+db"]![kind] = cd;
        log(`cfssl+db ${kind.padEnd(4)} ${formatResult(cd.result)}${cpuText(cd.cpu, false)}`);
      }
      // The /api/status probe runs beside the RSA run: key generation must never block the event loop.
      const probe = kind === "rsa" ? startProbe(`${kms.address}/api/status`, 10) : undefined;
      const km = await measured(kms.proc.pid, () => runLoad({
        url: `${kms.address}/api/v1/cert-manager/certificates`, body: kmsBody[kind], headers: { authorization: `Bearer ${token}` },
        concurrency: CLIENTS, durationMs: durationOf(kind), onBody: () => { issued++; },
      }), () => issued);
      r.runs.kms![kind] = km;
      log(`kms      ${kind.padEnd(4)} ${formatResult(km.result)}${cpuText(km.cpu, true)}`);
      if (probe) {
        r.probe = await probe.stop();
        log(`kms      /api/status probe during rsa: ${r.probe.count} probes, max ${r.probe.max.toFixed(1)} ms, p99 ${r.probe.p99.toFixed(1)} ms, p50 ${r.probe.p50.toFixed(1)} ms, errors ${r.probe.errors}`);
      }
    }
    if (ceiling) {
      let n = 0;
      r.ceiling = await measured(ceiling.pid, () => runLoad({ url: `${ceiling.url}/issue`, body: kmsBody.csr, concurrency: CLIENTS, durationMs: DURATION, onBody: () => { n++; } }), () => n);
      log(`bare fastify  ${formatResult(r.ceiling.result)}${cpuText(r.ceiling.cpu, false)}`);
    }
    if (ONLY.has("keygen")) {
      r.rsaKeygen = await rawKeygenRate("rsa", RSA_DURATION);
      r.ecKeygen = await rawKeygenRate("ec", Math.min(DURATION, 3000));
      log(`raw node keygen (thread pool, both cores): RSA-2048 ${r.rsaKeygen.toFixed(1)}/s, EC P-256 ${r.ecKeygen.toFixed(0)}/s`);
    }
    rounds.push(r);
  }
  const after = await inventory();

  log("\n## ratios, one figure per round (target in brackets)");
  const rate = (r: Round, peer: Peer, kind: Kind) => r.runs[peer]?.[kind]?.result.rate;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : undefined);
  const shown = (values: (number | undefined)[], unit = "x") => values.map((v) => (v === undefined ? "n/a" : `${v.toFixed(2)}${unit}`)).join("  ");
  const line = (what: string, target: number, values: (number | undefined)[]) => {
    const verdict = values.every((v) => v !== undefined && v >= target) ? "met" : values.some((v) => v !== undefined && v >= target) ? "met in some rounds" : "NOT met";
    log(`${what.padEnd(50)} ${shown(values).padEnd(14)} [>= ${target}x] ${verdict}`);
  };
  const info = (what: string, values: (number | undefined)[]) => log(`${`(info) ${what}`.padEnd(50)} ${shown(values)}`);
  line("CSR signing, kms / cfssl", 1.25, rounds.map((r) => ratio(rate(r, "kms", "csr"), rate(r, "cfssl", "csr"))));
  line("server-generated EC P-256, kms / cfssl", 1.25, rounds.map((r) => ratio(rate(r, "kms", "ec"), rate(r, "cfssl", "ec"))));
  line("server-generated RSA-2048, kms / raw node keygen", 0.9, rounds.map((r) => ratio(rate(r, "kms", "rsa"), r.rsaKeygen)));
  info("CSR signing, kms / cfssl+db", rounds.map((r) => ratio(rate(r, "kms", "csr"), rate(r, "cfssl+db", "csr"))));
  info("EC P-256, kms / cfssl+db", rounds.map((r) => ratio(rate(r, "kms", "ec"), rate(r, "cfssl+db", "ec"))));
  info("RSA-2048, kms / cfssl", rounds.map((r) => ratio(rate(r, "kms", "rsa"), rate(r, "cfssl", "rsa"))));
  info("CSR signing, kms / bare fastify", rounds.map((r) => ratio(rate(r, "kms", "csr"), r.ceiling?.result.rate)));
  // On CPU-bound shared cores the rate ratio follows the inverse ratio of CPU per request. A server whose
  // request cost only node:crypto's floor plus bare Fastify's HTTP would reach about cfssl's CPU / that sum.
  for (const kind of ["csr", "ec"] as const) {
    info(`bound on kms / cfssl, ${kind}: cfssl CPU / (crypto floor + HTTP)`, rounds.map((r) => {
      const cf = r.runs.cfssl?.[kind]?.cpu?.total;
      const http = r.ceiling?.cpu?.total;
      return cf !== undefined && http !== undefined ? cf / (floor[kind] + http) : undefined;
    }));
  }
  // On two shared cores throughput follows CPU per request: this is the figure that explains the ratios.
  for (const kind of ["csr", "ec"] as const) {
    const cpu = (peer: Peer) => rounds.map((r) => r.runs[peer]?.[kind]?.cpu?.total).map((v) => (v === undefined ? "n/a" : `${v.toFixed(0)}`)).join("/");
    if (rounds.some((r) => r.runs.kms?.[kind]?.cpu))
      log(`${`(info) server CPU per certificate, ${kind} (us)`.padEnd(50)} kms ${cpu("kms")}  cfssl ${cpu("cfssl")}  cfssl+db ${cpu("cfssl+db")}`);
  }
  const probes = rounds.map((r) => r.probe?.max).filter((v): v is number => v !== undefined);
  if (probes.length) log(`${"/api/status max latency during the RSA run".padEnd(50)} ${probes.map((p) => `${p.toFixed(1)} ms`).join("  ")} [<= 50 ms] ${probes.every((p) => p <= 50) ? "met" : "NOT met"}`);
  log(`inventory: kms recorded ${after - before} certificates for ${issued} issued (warm-up included) ${after - before === issued ? "(all persisted)" : "(MISMATCH)"}`);
  if (cfsslDb) log(`cfssl+db certdb: ${cfsslDb.count()} rows for ${cfsslDbSigned} signed`);

  await kms.cleanup();
};

try {
  await main();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
