/**
 * Advances asynchronous requests to external ACME CAs. All state is in the database (external_orders): a request
 * is claimed for a short lease, moved one step (RFC 8555 7.4: order → authorizations → challenges → finalize →
 * download) and released, so a restarted server resumes every pending request where it stood, and two server
 * processes on one database never advance the same request at once. A request past its deadline fails.
 */
import type { Clock } from "../../clock.js";
import { isoAt } from "../../time.js";
import type { PkiStore } from "../../../store/pki.js";
import type { ExternalCaStore } from "../../../store/external-ca.js";
import type { CertificateTable, ExternalCaTable, ExternalOrderTable } from "../../../store/schema.js";
import type { ProjectKeys } from "../../projects/project-keys.js";
import { SIGNATURE_BY_OID } from "../algorithms.js";
import { parseCertificate } from "../certificate.js";
import { parseCsr } from "../csr.js";
import { AcmeConfigError, AcmeProblemError, type AcmeClient, type AcmeOrder } from "./acme-client.js";
import { createDnsProvider, type DnsProviderConfig } from "./dns/index.js";
import { DnsRefusedError, type DnsProvider } from "./dns/provider.js";
import { openUpstream, type ExternalCaSecrets, type OrderDetails } from "./external-ca-service.js";
import { certificateBlocks } from "../../../crypto/der/pem.js";

export interface WorkerOptions {
  /** How often due requests are looked for, and the pace of polling an order that is being validated. */
  pollMs: number;
  /** How long a claimed request stays ours if this process dies mid-step. */
  leaseMs: number;
  /** Cap of the backoff after an error talking to the CA. */
  maxBackoffMs: number;
}

export interface WorkerLog { info(o: object, m: string): void; warn(o: object, m: string): void }

type Deps = {
  store: Pick<ExternalCaStore, "getCa" | "setAccountUrl" | "claimDue" | "updateOrder" | "putHttpChallenge" | "completeIssued" | "completeFailed">;
  pki: Pick<PkiStore, "getCa">;
  keys: Pick<ProjectKeys, "decryptText">;
  clock: Clock;
  options: WorkerOptions;
};


/** A CA said no for good (RFC 8555 6.7 errors other than badNonce, rateLimited and server errors). */
const isPermanent = (e: unknown) => e instanceof AcmeConfigError || (
  e instanceof AcmeProblemError && e.status >= 400 && e.status < 500 &&
  !["urn:ietf:params:acme:error:badNonce", "urn:ietf:params:acme:error:rateLimited"].includes(e.problem.type ?? ""));

export const externalOrderWorkerFactory = ({ store, pki, keys, clock, options }: Deps) => {
  interface Upstream { ext: ExternalCaTable; name: string; client: AcmeClient; account: Parameters<AcmeClient["ensureAccount"]>[0]; secrets: ExternalCaSecrets; dns?: DnsProvider }
  const upstreams = new Map<string, Upstream>();

  const upstreamFor = async (caId: string): Promise<Upstream> => {
    const ext = await store.getCa(caId);
    const ca = await pki.getCa(caId);
    if (!ext || !ca) throw new Error(`the external CA ${caId} no longer exists`);
    const hit = upstreams.get(caId);
    if (hit && hit.ext.updated_at === ext.updated_at) return hit;
    const { secrets, client, account } = await openUpstream(ext, keys);
    const dns = ext.dns_config ? createDnsProvider(JSON.parse(ext.dns_config) as DnsProviderConfig, secrets.dns ?? {}, { clock }) : undefined;
    const u = { ext, name: ca.name, client, account, secrets, dns };
    upstreams.set(caId, u);
    return u;
  };

  /** Why an invalid order is invalid: each failed challenge's own error, named by identifier (RFC 8555 7.1.4). */
  const whyInvalid = async (u: Upstream, order: AcmeOrder) => {
    const reasons: string[] = [];
    for (const url of order.authorizations) {
      const a = await u.client.getAuthorization(url).catch(() => undefined);
      if (!a || a.status === "valid") continue;
      const failed = a.challenges.find((c) => c.error);
      if (failed?.error) reasons.push(`${failed.type} challenge for ${a.identifier.value} failed: ${failed.error.detail ?? failed.error.type}`);
      else if (a.status !== "pending") reasons.push(`authorization for ${a.identifier.value} is ${a.status}`);
    }
    // The order's own error usually repeats a challenge's; it is the reason only when no challenge gives one.
    if (!reasons.length && order.error?.detail) reasons.push(order.error.detail);
    return reasons.length ? reasons.join("; ") : "the order became invalid";
  };

  const cleanupDns = async (u: Upstream | undefined, d: OrderDetails) => {
    for (const r of d.dnsRecords ?? []) await u?.dns?.cleanup(r.fqdn, r.value).catch(() => undefined);
  };

  const fail = async (row: ExternalOrderTable, d: OrderDetails, u: Upstream | undefined, message: string) => {
    await cleanupDns(u, d);
    await store.completeFailed(row.request_id, message, isoAt(clock.now()));
  };

  /** Answers every pending challenge of the order's authorizations with the CA's configured challenge type. */
  const solve = async (u: Upstream, row: ExternalOrderTable, d: OrderDetails, order: AcmeOrder) => {
    for (const url of order.authorizations) {
      const a = await u.client.getAuthorization(url);
      if (a.status !== "pending") continue;
      const ch = a.challenges.find((c) => c.type === u.ext.challenge_type);
      if (!ch) throw new AcmeConfigError(`the CA offers no ${u.ext.challenge_type} challenge for ${a.identifier.value} (offered: ${a.challenges.map((c) => c.type).join(", ")})`);
      if (ch.status !== "pending") continue; // already answered (before a restart, say): the CA is validating it
      if (ch.type === "http-01") {
        await store.putHttpChallenge(row.request_id, ch.token, await u.client.keyAuthorization(ch.token), isoAt(clock.now()));
      } else {
        // RFC 8555 8.4: the TXT record lives at _acme-challenge.<name>; a wildcard's authorization names the base domain.
        const rec = { fqdn: `_acme-challenge.${a.identifier.value}`, value: await u.client.dns01Value(ch.token) };
        await u.dns!.present(rec.fqdn, rec.value);
        d.dnsRecords = [...(d.dnsRecords ?? []), rec];
      }
      await u.client.respond(ch.url);
    }
  };

  const storeIssued = async (u: Upstream, row: ExternalOrderTable, d: OrderDetails, chainPem: string) => {
    const [leaf, ...rest] = certificateBlocks(chainPem);
    if (!leaf) throw new Error("the CA's certificate download held no certificate");
    const cert = parseCertificate(leaf);
    if (!cert.spkiDer.equals(parseCsr(row.csr).spkiDer)) throw new Error("the CA returned a certificate for a different key than the CSR's");
    const stamp = isoAt(clock.now());
    const c: CertificateTable = {
      id: d.certificateId, project_id: row.project_id, ca_id: null, ca_cert_id: null, profile_id: row.profile_id, status: "active",
      serial_number: cert.serialHex, common_name: d.commonName, alt_names: (cert.sans?.sans ?? []).map((s) => s.value).join(","),
      not_before: cert.notBefore.toISOString(), not_after: cert.notAfter.toISOString(), revoked_at: null, revocation_reason: null,
      key_usages: JSON.stringify(cert.keyUsages ?? []), extended_key_usages: JSON.stringify(cert.extendedKeyUsages?.known ?? []),
      key_algorithm: d.keyAlgorithm ?? "", signature_algorithm: SIGNATURE_BY_OID.get(cert.signatureAlgorithmOid) ?? cert.signatureAlgorithmOid,
      certificate: leaf + "\n", certificate_chain: rest.length ? rest.map((b) => b.trim()).join("\n") + "\n" : "",
      encrypted_private_key: row.encrypted_private_key, fingerprint_sha256: cert.fingerprintSha256,
      request: JSON.stringify(d.storedRequest), renewed_from_id: d.renewedFromId, created_at: stamp, updated_at: stamp,
    };
    await cleanupDns(u, d);
    await store.completeIssued(row.request_id, c, stamp);
  };

  /** One step of one request. Never throws: errors become a retry with backoff, or the request's failure. */
  const advance = async (row: ExternalOrderTable, log?: WorkerLog) => {
    const d = JSON.parse(row.details) as OrderDetails;
    const now = clock.now();
    let u: Upstream | undefined;
    const later = async (ms: number, patch: Partial<ExternalOrderTable> = {}) =>
      store.updateOrder(row.request_id, { ...patch, details: JSON.stringify(d), next_attempt_at: isoAt(clock.now() + ms), lock_until: null, updated_at: isoAt(clock.now()) });
    try {
      // The deadline comes first, so a request whose CA cannot even be loaded any more still ends.
      if (now >= Date.parse(row.deadline)) {
        u = await upstreamFor(row.ca_id).catch(() => undefined);
        const why = d.lastError ? `; last error: ${d.lastError}` : d.lastStatus ? `; the order was still ${d.lastStatus}` : "";
        const seconds = Math.round((Date.parse(row.deadline) - Date.parse(row.created_at)) / 1000);
        return await fail(row, d, u, `Timed out after ${seconds}s waiting for ACME CA '${u?.name ?? row.ca_id}'${why}`);
      }
      u = await upstreamFor(row.ca_id);
      if (row.state === "new") {
        const account = await u.client.ensureAccount(u.account);
        // updated_at is left as it was: it keys the cached client, which already knows this account URL.
        if (account !== u.ext.account_url) { await store.setAccountUrl(u.ext.ca_id, account, u.ext.updated_at); u.ext.account_url = account; }
        const { url } = await u.client.newOrder(d.identifiers);
        d.attempts = 0;
        log?.info({ requestId: row.request_id, order: url }, "external CA order placed");
        return await later(0, { state: "ordered", order_url: url });
      }
      const order = await u.client.getOrder(row.order_url!);
      d.lastStatus = order.status;
      d.attempts = 0;
      switch (order.status) {
        case "pending": await solve(u, row, d, order); return await later(options.pollMs);
        case "ready": await u.client.finalize(order.finalize, parseCsr(row.csr).der); return await later(options.pollMs);
        case "processing": return await later(options.pollMs);
        case "valid": return await storeIssued(u, row, d, await u.client.downloadCertificate(order.certificate!));
        default: return await fail(row, d, u, `ACME CA '${u.name}' refused the order: ${await whyInvalid(u, order)}`);
      }
    } catch (e) {
      const msg = (e as Error).message;
      if (e instanceof DnsRefusedError) return fail(row, d, u, `dns-01 for ACME CA '${u?.name ?? row.ca_id}' failed: ${msg}`).catch(() => undefined);
      if (isPermanent(e)) return fail(row, d, u, `ACME CA '${u?.name ?? row.ca_id}' refused the request: ${msg}`).catch(() => undefined);
      d.lastError = msg;
      d.attempts = (d.attempts ?? 0) + 1;
      log?.warn({ requestId: row.request_id, err: msg, attempt: d.attempts }, "external CA request will be retried");
      await later(Math.min(options.maxBackoffMs, options.pollMs * 2 ** d.attempts)).catch(() => undefined);
    }
  };

  /** Advances every due request once. */
  const tick = async (log?: WorkerLog) => {
    const now = clock.now();
    const due = await store.claimDue(isoAt(now), isoAt(now + options.leaseMs), 20);
    await Promise.all(due.map((row) => advance(row, log)));
  };

  /** Runs until stopped; stop() waits for the step in flight, so no request is left claimed by a clean shutdown. */
  const start = (log: WorkerLog) => {
    const ac = new AbortController();
    const loop = (async () => {
      while (!ac.signal.aborted) {
        try { await tick(log); } catch (e) { log.warn({ err: (e as Error).message }, "external CA worker tick failed"); }
        await clock.sleep(options.pollMs, ac.signal).catch(() => undefined);
      }
    })();
    return { stop: async () => { ac.abort(); await loop; } };
  };

  return { start, tick, advance };
};
export type ExternalOrderWorker = ReturnType<typeof externalOrderWorkerFactory>;

export const workerOptionsFromEnv = (env: NodeJS.ProcessEnv): WorkerOptions => ({
  pollMs: Number(env.KMS_EXTERNAL_CA_POLL_MS) > 0 ? Number(env.KMS_EXTERNAL_CA_POLL_MS) : 2_000,
  leaseMs: 60_000,
  maxBackoffMs: 60_000,
});
