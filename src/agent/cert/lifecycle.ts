import type { KeyObject } from "node:crypto";
import { chmod, readFile, rm, stat } from "node:fs/promises";
import { ensureDir, writeFileAtomic } from "../files.js";
import { acquireFileLock } from "../lock.js";
import { dirname, resolve } from "node:path";
import type { Clock } from "../../core/clock.js";
import { runHook } from "../hooks.js";
import type { HookDeps, HookResult, HookSpec } from "../hooks.js";
import type { Logger } from "../log.js";
import type { AgentMetrics } from "../metrics.js";
import type { RetryPolicy } from "../retry.js";
import type { TokenManager } from "../token.js";
import type { CertificateEntry } from "./config.js";
import { DEFAULT_HOOK_TIMEOUT_S } from "./config.js";
import { CertificateRequestFailedError, createObtainer } from "./obtain.js";
import type { TargetCache } from "./obtain.js";
import type { Limiter } from "../../core/limiter.js";
import type { CertClient, Material } from "./obtain.js";
import { certificateHasPublicKey, certInfo, keyMatchesCertificate, parseChain, publicKeyOfPrivate, rfc3339, splitCertificates, withoutRoots } from "./pem.js";
import { displayNameOf, keyModeOf, omitRootOf, requestFingerprint } from "./request.js";
import { readState, statePathFor, STATE_VERSION, writeState } from "./state.js";
import type { CertRecordState, PendingRequest, ReadState, StateFile } from "./state.js";
import { recoverSet, writeSet } from "./writer.js";
import type { SetTargets } from "./writer.js";

/**
 * One certificate's life: reuse what is on disk, issue when nothing valid is there, check status every
 * status-check-interval, renew before expiry, re-issue when revoked, back off after failures. Each
 * certificate runs its own loop, so one failing never stops the others.
 */

export type CertEvent = "issuance" | "renewal" | "failure";

export interface CertLoopDeps {
  entry: CertificateEntry;
  index: number;
  client: CertClient;
  tokens: Pick<TokenManager, "get" | "invalidate">;
  clock: Clock;
  logger: Logger;
  retry: RetryPolicy;
  metrics?: AgentMetrics;
  stateDir?: string;
  random?: () => number;
  /** Injected in tests; defaults to agent/hooks.ts. */
  runHook?: (spec: HookSpec, deps: HookDeps) => Promise<HookResult>;
  hookKillGraceMs?: number;
  /** Project/profile lookups shared with the other certificates of the same connection. */
  targets?: TargetCache;
  /** Issuance calls in flight, bounded across the certificates of one agent. */
  issueSlots?: Limiter;
}

interface Current {
  serialNumber: string;
  certificateId?: string;
  notBefore: number;
  notAfter: number;
  commonName?: string;
  /** Extra lead time for renewal, up to 5% of the lifetime, so a fleet does not renew in one second. */
  jitterMs: number;
}

export const RENEW_JITTER_FRACTION = 0.05;
export const MAX_FAILURE_BACKOFF_MS = 3_600_000;
/** Near expiry a quarter of what is left gets tiny: attempts still come at most once a second. */
export const MIN_FAILURE_DELAY_MS = 1_000;

export interface FailureSchedule {
  /** failure-retry-interval: the first delay, doubled with each consecutive failure. */
  baseMs: number;
  /** status-check-interval: the cadence once the quick retries are used up. */
  checkMs: number;
  /** max-failure-retries. */
  quickRetries: number;
}

/**
 * The wait after the `failures`-th consecutive final failure, as docs/cert-agent.md promises: failure-retry-interval
 * doubling (±10 %) up to an hour for the first max-failure-retries failures, then the status-check-interval; and
 * never more than a quarter of the certificate's remaining lifetime (`leftMs`), so several attempts remain before it
 * expires. Nothing overrides that cap, not the interval either: with 31 s left the next attempt comes within 8 s.
 */
export const failureDelay = (failures: number, s: FailureSchedule, leftMs: number | undefined, random: () => number = Math.random): number => {
  const wanted = failures > s.quickRetries ? s.checkMs : Math.min(MAX_FAILURE_BACKOFF_MS, s.baseMs * 2 ** Math.min(failures - 1, 30) * (0.9 + 0.2 * random()));
  const cap = leftMs !== undefined && leftMs > 0 ? Math.max(MIN_FAILURE_DELAY_MS, leftMs / 4) : Infinity;
  return Math.min(wanted, cap);
};

export const createCertificateLoop = (deps: CertLoopDeps) => {
  const { entry, clock, metrics } = deps;
  const random = deps.random ?? Math.random;
  const name = displayNameOf(entry, deps.index);
  const log = deps.logger.child({ certificate: name });
  const out = entry["file-output"];
  const mode = keyModeOf(entry);
  const certPath = out.certificate.path!;
  const statePath = statePathFor(certPath, deps.stateDir);
  const baseTargets: SetTargets = {
    key: out["private-key"]?.path ? { path: out["private-key"].path, mode: out["private-key"].permission } : undefined,
    chain: out.chain?.path ? { path: out.chain.path, mode: out.chain.permission } : undefined,
    certificate: { path: certPath, mode: out.certificate.permission },
  };
  const checkMs = entry.lifecycle["status-check-interval"];
  const failureBaseMs = entry.lifecycle["failure-retry-interval"] ?? checkMs;
  const renewBeforeMs = entry.lifecycle["renew-before-expiry"];
  const schedule: FailureSchedule = { baseMs: failureBaseMs, checkMs, quickRetries: entry.lifecycle["max-failure-retries"] };

  let current: Current | undefined;
  let csrText: string | undefined;
  let csrKey: KeyObject | undefined;
  let fingerprint = "";
  let warned = new Set<string>();

  /** The asynchronous request to poll at the next attempt (after a restart, or after we stopped waiting). */
  let resumable: Pick<PendingRequest, "id" | "event"> | undefined;
  let obtaining: "issuance" | "renewal" = "issuance";

  /**
   * With key-source local, the key a pending request is for, kept beside the state file (0600, like the key
   * file itself) until the certificate is installed: without it a restarted agent could not use the request.
   */
  const pendingKeyPath = `${statePath}.pending-key`;

  /** Remembers a pending request in the state file (and its local key) before it is polled. */
  const rememberRequest = async (id: string, localPrivateKey?: string) => {
    if (mode === "local") {
      if (!localPrivateKey) return;
      await writeFileAtomic(pendingKeyPath, localPrivateKey, { mode: 0o600 });
    }
    const read = await readState(statePath);
    const base: StateFile = read.kind === "ok" ? read.state : { version: STATE_VERSION };
    await writeState(statePath, {
      ...base,
      pendingRequest: { id, event: obtaining, fingerprint, since: new Date(clock.now()).toISOString(), ...(mode === "local" && { keyFile: pendingKeyPath }) },
    });
  };
  const forgetRequest = async () => {
    await rm(pendingKeyPath, { force: true });
    const read = await readState(statePath);
    if (read.kind !== "ok" || !read.state.pendingRequest) return;
    const { pendingRequest: _, ...rest } = read.state;
    await writeState(statePath, rest);
  };
  /** The local key of the pending request being resumed; gone (or unreadable) means the request is of no use. */
  const pendingKey = async (): Promise<string | undefined> => {
    try {
      return await readFile(pendingKeyPath, "utf8");
    } catch {
      return undefined;
    }
  };

  const obtainer = () =>
    createObtainer({ entry, mode, csrText, client: deps.client, tokens: deps.tokens, clock, retry: deps.retry, logger: log, random: deps.random, targets: deps.targets, onPending: rememberRequest });
  let server: ReturnType<typeof createObtainer> | undefined;

  const warnOnce = (key: string, msg: string, fields?: Record<string, unknown>) => {
    if (warned.has(key)) return;
    warned.add(key);
    log.warn(msg, fields);
  };

  const fireHook = async (event: CertEvent, errorMessage?: string) => {
    const hook = entry["post-hooks"][`on-${event}`];
    if (!hook) return;
    const env: Record<string, string> = {
      CERT_COMMON_NAME: current?.commonName ?? entry.attributes["common-name"] ?? "",
      CERT_FILE_PATH: resolve(certPath),
      CERT_KEY_FILE_PATH: baseTargets.key ? resolve(baseTargets.key.path) : "",
      CERT_CHAIN_FILE_PATH: baseTargets.chain ? resolve(baseTargets.chain.path) : "",
      CERT_SERIAL_NUMBER: current?.serialNumber ?? "",
      CERT_NOT_AFTER: current ? rfc3339(current.notAfter) : "",
      CERT_PROFILE_NAME: entry["profile-name"] ?? "",
      CERT_PROJECT_SLUG: entry["project-slug"] ?? "",
      EVENT: event,
    };
    if (errorMessage !== undefined) env.ERROR_MESSAGE = errorMessage;
    // A failing hook is logged and nothing more: it never causes a re-issuance.
    try {
      await (deps.runHook ?? runHook)(
        { command: hook.command, timeoutMs: hook.timeout ?? DEFAULT_HOOK_TIMEOUT_S * 1000, env, name: `on-${event}` },
        { clock, logger: log, killGraceMs: deps.hookKillGraceMs },
      );
    } catch (err) {
      log.error(`hook on-${event} could not run`, { error: (err as Error).message });
    }
  };

  /** Is the set on disk the one the state file describes for this very request, intact and unexpired? */
  const inspect = async (read: ReadState): Promise<Current | undefined> => {
    if (read.kind === "invalid") {
      log.warn("state file unreadable, issuing anew", { statePath, reason: read.reason });
      return undefined;
    }
    if (read.kind === "missing" || !read.state.current) return undefined;
    const rec = read.state.current;
    if (rec.fingerprint !== fingerprint) {
      log.info("certificate request changed since the last run, issuing anew");
      return undefined;
    }
    try {
      const certPem = await readFile(certPath, "utf8");
      const info = certInfo(certPem);
      if (baseTargets.key && mode !== "existing") {
        const keyPem = await readFile(baseTargets.key.path, "utf8");
        if (!keyMatchesCertificate(keyPem, info.x509)) {
          log.warn("private key on disk does not match the certificate, issuing anew");
          return undefined;
        }
      }
      if (mode === "csr" && csrKey && !certificateHasPublicKey(certPem, csrKey)) {
        log.warn("certificate on disk does not carry the CSR's key, issuing anew");
        return undefined;
      }
      if (baseTargets.chain) {
        const chain = parseChain(await readFile(baseTargets.chain.path, "utf8"));
        if (rec.chainCertificates !== undefined && chain.length !== rec.chainCertificates) {
          throw new Error(`the chain file holds ${chain.length} certificates, ${rec.chainCertificates} were written`);
        }
      }
      if (clock.now() >= info.notAfter) {
        log.warn("certificate on disk has expired, issuing anew", { notAfter: rfc3339(info.notAfter) });
        return undefined;
      }
      const recorded = sameSerial(rec.serialNumber, info.serialNumber);
      return {
        serialNumber: recorded ? rec.serialNumber.toLowerCase() : info.serialNumber,
        certificateId: recorded ? rec.certificateId : undefined,
        notBefore: info.notBefore,
        notAfter: info.notAfter,
        commonName: info.commonName,
        jitterMs: random() * RENEW_JITTER_FRACTION * Math.max(0, info.notAfter - info.notBefore),
      };
    } catch (err) {
      log.warn("certificate files missing or unparsable, issuing anew", { error: (err as Error).message });
      return undefined;
    }
  };

  /**
   * A reused set gets the configured modes too: a tightened `permission` (or a key someone made world-readable)
   * must not wait for the next renewal.
   */
  const enforceModes = async () => {
    for (const t of [baseTargets.key, baseTargets.chain, baseTargets.certificate]) {
      if (!t) continue;
      let was: number;
      try {
        was = (await stat(t.path)).mode & 0o7777;
      } catch {
        continue; // certificate-id without a key on the server: no key file
      }
      if (was === t.mode) continue;
      await chmod(t.path, t.mode);
      log.info("file mode set to the configured permission", { path: t.path, was: octal(was), mode: octal(t.mode) });
    }
  };

  /** Checks the material, then writes key → chain → certificate as one journaled set. */
  const install = async (m: Material, event: "issuance" | "renewal") => {
    const info = certInfo(m.certificate);
    // One spelling in hooks, logs and state, whatever reported it (an external CA may write uppercase).
    const serialNumber = m.serialNumber.toLowerCase();
    let chain = splitCertificates(m.chain);
    if (omitRootOf(entry)) chain = withoutRoots(chain);
    const targets: SetTargets = { ...baseTargets };
    let key: string | undefined;
    if (mode === "local") {
      if (m.privateKey) log.warn("server returned a private key for a locally generated key pair; ignoring it");
      key = m.localPrivateKey;
      if (!key || !certificateHasPublicKey(m.certificate, publicKeyOfPrivate(key))) throw new Error("issued certificate does not carry the locally generated key");
    } else if (mode === "csr") {
      if (!csrKey || !certificateHasPublicKey(m.certificate, csrKey)) throw new Error("issued certificate does not carry the CSR's public key");
    } else if (targets.key) {
      key = m.privateKey ?? undefined;
      if (!key) {
        if (mode !== "existing") throw new Error("the server returned no private key");
        warnOnce("no-key", "certificate has no private key on the server; not writing the key file");
        targets.key = undefined;
      } else if (!keyMatchesCertificate(key, info.x509)) {
        throw new Error("the private key returned does not match the certificate");
      }
    }
    const next: CertRecordState = {
      profileName: entry["profile-name"],
      projectSlug: entry["project-slug"],
      profileId: m.profileId,
      projectId: m.projectId,
      fingerprint,
      serialNumber,
      certificateId: m.certificateId,
      notAfter: new Date(info.notAfter).toISOString(),
      notBefore: new Date(info.notBefore).toISOString(),
      keySource: mode,
      ...(targets.chain && { chainCertificates: chain.length }),
      issuedAt: new Date(clock.now()).toISOString(),
    };
    await writeSet(targets, { key, chain: chain.join(""), certificate: ensureNewline(m.certificate) }, statePath, event, next);
    log.debug("certificate set written", {
      files: [targets.key, targets.chain, targets.certificate].filter((t) => t !== undefined).map((t) => `${t.path} (${octal(t.mode)})`),
      statePath,
    });
    // The request it was kept for is answered: its copy of the key goes (the key file is the key now).
    if (mode === "local") await rm(pendingKeyPath, { force: true });
    current = {
      serialNumber,
      certificateId: m.certificateId,
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      commonName: info.commonName,
      jitterMs: random() * RENEW_JITTER_FRACTION * Math.max(0, info.notAfter - info.notBefore),
    };
    warned = new Set();
    metrics?.notAfter.set({ name }, Math.floor(info.notAfter / 1000));
    (event === "issuance" ? metrics?.issuances : metrics?.renewals)?.inc({ name });
    log.info(event === "issuance" ? "certificate issued" : "certificate renewed", { serial: serialNumber, notAfter: rfc3339(info.notAfter) });
    await fireHook(event);
  };

  const obtain = async (event: "issuance" | "renewal", signal: AbortSignal, reason: string) => {
    server ??= obtainer();
    log.info(event === "issuance" ? "requesting certificate" : "renewing certificate", { reason });
    let m: Material;
    obtaining = event;
    const resuming = resumable;
    resumable = undefined;
    try {
      if (resuming && mode === "local") {
        const key = await pendingKey();
        if (!key) {
          await forgetRequest();
          throw new Error(`the key of pending request ${resuming.id} is gone (${pendingKeyPath}); a new request follows`);
        }
        m = { ...(await server.resume(resuming.id, signal)), localPrivateKey: key };
      } else if (resuming) m = await server.resume(resuming.id, signal);
      else if (mode === "existing") m = await server.fetchExisting(signal);
      else if (event === "renewal" && mode === "server" && current?.certificateId && reason !== "revoked") m = await server.renew(current.certificateId, signal);
      else m = await server.issue(signal);
    } catch (err) {
      if (err instanceof CertificateRequestFailedError && err.requestId) {
        // Failed or rejected: forget it, the next attempt asks anew. Still pending when we stopped waiting: poll it
        // again next time rather than ordering a second certificate.
        if (err.final) await forgetRequest();
        else resumable = { id: err.requestId, event };
      }
      throw err;
    }
    // From here on the answer is ours: finish writing even if a shutdown was asked for meanwhile.
    await install(m, event);
  };

  const effectiveRenewBefore = (c: Current): number | undefined => {
    if (renewBeforeMs === undefined) return undefined;
    const life = c.notAfter - c.notBefore;
    if (renewBeforeMs >= life) {
      warnOnce("clamp", "renew-before-expiry is not shorter than the certificate's lifetime; renewing at a third of its lifetime instead", {
        lifetimeMs: life,
      });
      return (life * 2) / 3;
    }
    return renewBeforeMs;
  };

  /** One status check. Throws only when an issuance or renewal finally failed. */
  const step = async (signal: AbortSignal) => {
    if (resumable) return obtain(resumable.event, signal, "a request is still pending");
    if (!current) return obtain("issuance", signal, "no valid certificate on disk");
    const c = current;
    if (c.certificateId) {
      try {
        const rec = await server!.status(c.certificateId, signal);
        log.debug("status checked", { certificateId: c.certificateId, status: rec.status });
        if (rec.status === "revoked") {
          if (mode === "server" || mode === "local") return obtain("renewal", signal, "revoked");
          if (!warned.has("revoked")) {
            warnOnce("revoked", "certificate was revoked on the server and cannot be re-issued from here");
            await fireHook("failure", `certificate ${c.certificateId} was revoked on the server`);
          }
          return;
        }
      } catch (err) {
        if (signal.aborted) throw err;
        log.warn("status check failed; will check again", { error: (err as Error).message });
      }
    }
    const left = c.notAfter - clock.now();
    if (mode === "csr" || mode === "existing" || renewBeforeMs === undefined) {
      // What a restart would do: an expired certificate is not reused but issued anew. certificate-id is the
      // exception: fetching it again brings back the same expired certificate.
      if (left <= 0 && mode !== "existing") return obtain("issuance", signal, "the certificate on disk has expired");
      // Seed 001: no renew-before-expiry, no auto-renewal; a CSR's key is not ours to renew with.
      const warnAt = renewBeforeMs ?? (c.notAfter - c.notBefore) * 0.1;
      if (left <= warnAt) warnOnce("expiring", left > 0 ? "certificate expires soon and is not renewed automatically" : "certificate has expired", { notAfter: rfc3339(c.notAfter) });
      return;
    }
    if (left <= effectiveRenewBefore(c)! + c.jitterMs) return obtain("renewal", signal, "renew-before-expiry reached");
  };

  const nextCheckAt = (): { at: number; reason: string } => {
    const now = clock.now();
    const check = { at: now + checkMs, reason: "status-check-interval" };
    const c = current;
    if (c && mode !== "csr" && mode !== "existing" && renewBeforeMs !== undefined) {
      // Wake exactly when renewal becomes due instead of up to one interval late.
      const due = Math.max(now, c.notAfter - effectiveRenewBefore(c)! - c.jitterMs);
      if (due < check.at) return { at: due, reason: "renewal due (renew-before-expiry and jitter)" };
    } else if (c && mode !== "existing" && c.notAfter > now && c.notAfter < check.at) {
      return { at: c.notAfter, reason: "certificate expires" }; // to replace it then
    }
    return check;
  };


  /** The loop holds its certificate's lock for as long as it runs (src/agent/lock.ts). */
  const run = async (signal: AbortSignal): Promise<void> => {
    await ensureDir(dirname(statePath));
    const release = await acquireFileLock(`${statePath}.lock`);
    try {
      await runLocked(signal);
    } finally {
      await release();
    }
  };

  const runLocked = async (signal: AbortSignal): Promise<void> => {
    // Counters show from the start, at 0, so a dashboard or alert on them needs no "absent" case.
    for (const counter of [metrics?.issuances, metrics?.renewals, metrics?.failures]) counter?.inc({ name }, 0);
    if (mode === "csr" && renewBeforeMs !== undefined)
      log.warn("renew-before-expiry has no effect with a CSR: the agent has no key to renew with; the certificate is issued again only once it expires");
    if (mode === "csr") {
      csrText = entry.csr ?? (await readFile(entry["csr-path"]!, "utf8"));
      try {
        // Loaded on demand: @peculiar/x509 costs ~0.5 s of start-up, and most agents never need it.
        csrKey = (await import("./keys.js")).csrPublicKey(csrText);
      } catch (err) {
        log.error("the CSR cannot be parsed; the server will be asked anyway", { error: (err as Error).message });
      }
    }
    fingerprint = requestFingerprint(entry, csrText);
    server = obtainer();
    const rec = await recoverSet(baseTargets, statePath);
    if (rec.rolledForward) log.warn("completed a certificate write interrupted by a crash", { event: rec.rolledForward });
    current = await inspect(rec.state);
    const waiting = rec.state.kind === "ok" ? rec.state.state.pendingRequest : undefined;
    if (waiting && waiting.fingerprint === fingerprint && (mode !== "local" || waiting.keyFile)) {
      resumable = { id: waiting.id, event: waiting.event };
      log.info("resuming pending certificate request", { requestId: waiting.id, since: waiting.since });
    } else if (waiting) {
      await forgetRequest();
    }
    if (current) {
      await enforceModes();
      metrics?.notAfter.set({ name }, Math.floor(current.notAfter / 1000));
      log.info("reusing certificate on disk", { serial: current.serialNumber, notAfter: rfc3339(current.notAfter) });
      if (rec.rolledForward) await fireHook(rec.rolledForward);
    }
    let failures = 0;
    // The first check runs at once: a reused certificate may be revoked or already due for renewal.
    let nextAt = clock.now();
    while (!signal.aborted) {
      const wait = nextAt - clock.now();
      if (wait > 0) {
        try {
          await clock.sleep(wait, signal);
        } catch {
          break;
        }
      }
      try {
        await step(signal);
        failures = 0;
        const next = nextCheckAt();
        nextAt = next.at;
        log.debug("next check scheduled", { at: rfc3339(next.at), inMs: Math.round(next.at - clock.now()), reason: next.reason });
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        const message = (err as Error)?.message ?? String(err);
        metrics?.failures.inc({ name });
        const delay = failureDelay(failures, schedule, current && current.notAfter - clock.now(), random);
        log.error("certificate operation failed; keeping the current files", { error: message, failures, nextAttemptMs: Math.round(delay) });
        await fireHook("failure", message);
        nextAt = clock.now() + delay;
      }
    }
  };

  return {
    name,
    run,
    /** Ready while a valid certificate is on disk: not before the first one, and not once it has expired. */
    ready: () => current !== undefined && clock.now() < current.notAfter,
    snapshot: () => (current ? { serialNumber: current.serialNumber, notAfter: current.notAfter, certificateId: current.certificateId } : undefined),
  };
};
export type CertificateLoop = ReturnType<typeof createCertificateLoop>;

const octal = (mode: number) => `0${mode.toString(8).padStart(3, "0")}`;
const ensureNewline = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
const sameSerial = (a: string, b: string) => a.replace(/^0+/, "").toLowerCase() === b.replace(/^0+/, "").toLowerCase();
