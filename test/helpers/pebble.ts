/**
 * pebble (Let's Encrypt's ACME test server, Debian package `pebble`) and pebble-challtestsrv on loopback, as the
 * upstream CA of the external-CA tests. pebble validates challenges for real: http-01 against the KMS's own listener
 * (its httpPort is the KMS port), dns-01 against TXT records in challtestsrv, which also answers A queries with
 * 127.0.0.1. An RFC 2136 server (rfc2136-relay.ts) takes the KMS's DNS UPDATEs and relays them to challtestsrv.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { writeFileSync } from "node:fs";
import { request } from "node:https";
import type { TestContext } from "node:test";
import { scratch } from "./openssl.js";

export interface Pebble {
  directoryUrl: string;
  /** pebble's own TLS certificate's CA: the caBundle of the KMS's CA record. */
  tlsCa: string;
  /** The root that signs issued certificates (management interface /roots/0). */
  root(): Promise<string>;
  /** What pebble knows of a certificate it issued, by serial (hex): `Status` "Valid" or "Revoked", `Reason`. */
  certStatus(serialHex: string): Promise<{ Status?: string; Reason?: number }>;
  /** challtestsrv's management API, for TXT records (set-txt / clear-txt). */
  challtestsrv: string;
  stop(): Promise<void>;
}

export const freePort = () => new Promise<number>((res, rej) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  s.on("error", rej);
});

const has = (bin: string) => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;

/** True when pebble and pebble-challtestsrv are installed; otherwise skips loudly (fails under KMS_REQUIRE_SERVICES=1). */
export const needPebble = (t: TestContext): boolean => {
  if (has("pebble") && has("pebble-challtestsrv")) return true;
  const reason = "pebble / pebble-challtestsrv are not installed (apt-get install pebble)";
  if (process.env.KMS_REQUIRE_SERVICES === "1") throw new Error(`${reason}, and KMS_REQUIRE_SERVICES=1 forbids skipping`);
  process.stderr.write(`\n!!! SKIPPED: ${reason}: the external-CA tests did not run !!!\n\n`);
  t.skip(`SKIPPED LOUDLY: ${reason}`);
  return false;
};

const waitFor = async (what: string, check: () => Promise<boolean>, proc: ChildProcess, out: string[]) => {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited:\n${out.join("")}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up:\n${out.join("")}`);
};

export const httpsGet = (url: string, ca: string) => new Promise<{ status: number; body: string }>((res, rej) => {
  request(url, { ca }, (r) => { let b = ""; r.on("data", (c) => (b += c)); r.on("end", () => res({ status: r.statusCode ?? 0, body: b })); }).on("error", rej).end();
});

const run = (bin: string, args: string[], env: Record<string, string> = {}) => {
  const out: string[] = [];
  const proc = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.on("data", (d) => out.push(d.toString()));
  proc.stderr!.on("data", (d) => out.push(d.toString()));
  return { proc, out };
};

/** Starts challtestsrv and pebble; `httpPort` is where pebble sends http-01 validations (the KMS's port). */
export const startPebble = async (httpPort: number, o: { eab?: Record<string, string>; validitySeconds?: number } = {}): Promise<Pebble> => {
  const dir = scratch("kms-pebble-");
  // pebble's listener certificate: a throw-away CA and a localhost leaf, so the KMS must trust it via caBundle.
  const ossl = (...a: string[]) => { const r = spawnSync("openssl", a, { encoding: "utf8" }); if (r.status !== 0) throw new Error(r.stderr); };
  ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir.path("ca.key"), "-out", dir.path("ca.pem"), "-subj", "/CN=pebble test TLS CA", "-days", "2");
  ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir.path("key.pem"), "-out", dir.path("req.pem"), "-subj", "/CN=localhost");
  dir.write("ext.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  ossl("x509", "-req", "-in", dir.path("req.pem"), "-CA", dir.path("ca.pem"), "-CAkey", dir.path("ca.key"), "-CAcreateserial", "-out", dir.path("cert.pem"), "-days", "2", "-extfile", dir.path("ext.cnf"));
  const tlsCa = (await import("node:fs")).readFileSync(dir.path("ca.pem"), "utf8");

  const [dnsPort, mgmtPort, acmePort, pebbleMgmt, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const cts = run("pebble-challtestsrv", ["-dns01", `127.0.0.1:${dnsPort}`, "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", `127.0.0.1:${mgmtPort}`, "-defaultIPv6", ""]);
  const challtestsrv = `http://127.0.0.1:${mgmtPort}`;
  await waitFor("pebble-challtestsrv", async () => (await fetch(`${challtestsrv}/clear-txt`, { method: "POST", body: JSON.stringify({ host: "x." }) })).ok, cts.proc, cts.out);

  writeFileSync(dir.path("pebble.json"), JSON.stringify({ pebble: {
    listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${pebbleMgmt}`,
    certificate: dir.path("cert.pem"), privateKey: dir.path("key.pem"), httpPort, tlsPort, ocspResponderURL: "",
    externalAccountBindingRequired: !!o.eab, ...(o.eab && { externalAccountMACKeys: o.eab }),
    ...(o.validitySeconds && { certificateValidityPeriod: o.validitySeconds }),
  } }));
  // No PEBBLE_VA_ALWAYS_VALID: challenges are validated for real. NOSLEEP only drops pebble's random 0-5 s pause.
  const pb = run("pebble", ["-config", dir.path("pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" });
  const directoryUrl = `https://localhost:${acmePort}/dir`;
  await waitFor("pebble", async () => (await httpsGet(directoryUrl, tlsCa)).status === 200, pb.proc, pb.out);

  const stopProc = (p: ChildProcess) => new Promise<void>((res) => { if (p.exitCode !== null || p.signalCode !== null) return res(); p.once("exit", () => res()); p.kill("SIGTERM"); });
  return {
    directoryUrl, tlsCa, challtestsrv,
    root: async () => (await httpsGet(`https://localhost:${pebbleMgmt}/roots/0`, tlsCa)).body,
    certStatus: async (serialHex) => JSON.parse((await httpsGet(`https://localhost:${pebbleMgmt}/cert-status-by-serial/${serialHex}`, tlsCa)).body) as { Status?: string; Reason?: number },
    stop: async () => { await stopProc(pb.proc); await stopProc(cts.proc); },
  };
};
