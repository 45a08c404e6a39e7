import type { Limiter } from "../../core/limiter.js";
import type { Clock } from "../../core/clock.js";
import type { KmsClient } from "../../client/kms-client.js";
import type { IssueCertificateRequest } from "../../client/types.js";
import type { Logger } from "../log.js";
import { backoffDelay, withRetry } from "../retry.js";
import type { RetryPolicy } from "../retry.js";
import type { TokenManager } from "../token.js";
import type { CertificateEntry } from "./config.js";
import { buildAttributes, localKeyAlgorithm, omitRootOf, signatureAlgorithmOf } from "./request.js";
import type { KeyMode } from "./request.js";

/**
 * The server side of one issuance or renewal: resolve project and profile, issue (or renew, or fetch an
 * existing certificate), poll asynchronous requests to the end. Every call goes through the retry
 * policy; a 401 gets one fresh login. Returns the material unverified: the caller checks it before
 * anything touches the disk.
 */

export type CertClient = Pick<
  KmsClient,
  "getProjectBySlug" | "getProfileBySlug" | "issueCertificate" | "getCertificate" | "getCertificateBundle" | "getCertificateRequest" | "renewCertificate"
>;

export interface Material {
  certificate: string;
  chain: string | null | undefined;
  privateKey: string | null | undefined;
  serialNumber: string;
  certificateId: string | undefined;
  /** The key we generated (key-source local); never sent anywhere. */
  localPrivateKey?: string;
  profileId?: string;
  projectId?: string;
}

export interface ObtainDeps {
  entry: CertificateEntry;
  mode: KeyMode;
  csrText: string | undefined;
  client: CertClient;
  tokens: Pick<TokenManager, "get" | "invalidate">;
  clock: Clock;
  retry: RetryPolicy;
  logger: Logger;
  random?: () => number;
  /** Longest wait for an asynchronous (pending) certificate request. */
  pollTimeoutMs?: number;
  /**
   * Told the id of an asynchronous request before it is polled, so a restart can resume it (lifecycle.ts),
   * with the locally generated key the request is for (key-source local).
   */
  onPending?: (requestId: string, localPrivateKey?: string) => Promise<void>;
  /**
   * Project and profile ids by slug, shared by every certificate of one connection: an agent with a
   * hundred certificates of one profile asks twice at start, not two hundred times.
   */
  targets?: TargetCache;
  /**
   * Bounds the issuance calls of all certificates of one agent: at start a hundred certificates would
   * otherwise ask at once and all finish late together, and a fleet restart would hit the KMS as a herd.
   */
  issueSlots?: Limiter;
}

export type TargetCache = Map<string, Promise<{ projectId: string; profileId: string }>>;

export class CertificateRequestFailedError extends Error {
  readonly retryable = false;
  /** False when the request may still complete (we stopped waiting): the next attempt polls it again. */
  readonly final: boolean;
  readonly requestId?: string;
  constructor(message: string, o: { final?: boolean; requestId?: string } = {}) {
    super(message);
    this.name = new.target.name;
    this.final = o.final ?? true;
    this.requestId = o.requestId;
  }
}

const isUnauthorized = (err: unknown) => (err as { status?: number })?.status === 401;
const isClientError = (err: unknown) => {
  const s = (err as { status?: number })?.status;
  return typeof s === "number" && s >= 400 && s < 500 && s !== 429;
};

export const createObtainer = (deps: ObtainDeps) => {
  const { entry, client, clock, retry, logger } = deps;
  let target: { projectId: string; profileId: string } | undefined;

  /** One API call: a token, the retry policy, and a single re-login when the token was refused. */
  const call = async <T>(fn: (token: string) => Promise<T>, signal: AbortSignal): Promise<T> => {
    let token = await deps.tokens.get(signal);
    return withRetry(
      async () => {
        try {
          return await fn(token);
        } catch (err) {
          if (!isUnauthorized(err)) throw err;
          deps.tokens.invalidate(token);
          token = await deps.tokens.get(signal);
          return fn(token);
        }
      },
      retry,
      {
        clock,
        signal,
        random: deps.random,
        onRetry: (i) => logger.warn("request failed, retrying", { retry: i.retry, delayMs: Math.round(i.delayMs), error: (i.error as Error).message }),
      },
    );
  };

  const lookUpTarget = async (signal: AbortSignal) => {
    const project = await call((token) => client.getProjectBySlug(entry["project-slug"]!, { token, signal }), signal);
    const profile = await call((token) => client.getProfileBySlug(entry["profile-name"]!, project.id, { token, signal }), signal);
    return { projectId: project.id, profileId: profile.id };
  };

  const resolveTarget = async (signal: AbortSignal) => {
    if (target) return target;
    const cache = deps.targets;
    if (!cache) return (target = await lookUpTarget(signal));
    const key = `${entry["project-slug"]}\u0000${entry["profile-name"]}`;
    let pending = cache.get(key);
    if (!pending) {
      pending = lookUpTarget(signal);
      cache.set(key, pending);
      // A failed lookup is forgotten, so the next attempt (of any certificate) asks again.
      pending.catch(() => { if (cache.get(key) === pending) cache.delete(key); });
    }
    return (target = await pending);
  };

  const poll = async (requestId: string, signal: AbortSignal): Promise<Material> => {
    const deadline = clock.now() + (deps.pollTimeoutMs ?? 10 * 60_000);
    for (let n = 0; ; n++) {
      const r = await call((token) => client.getCertificateRequest(requestId, { token, signal }), signal);
      if (r.status === "issued" && r.certificate && r.serialNumber) {
        return { certificate: r.certificate, chain: r.certificateChain, privateKey: r.privateKey, serialNumber: r.serialNumber, certificateId: r.certificateId ?? undefined };
      }
      // Upstream polls rejected requests forever (DESIGN.md known defects): a final status ends it.
      if (r.status === "failed" || r.status === "rejected") {
        throw new CertificateRequestFailedError(`certificate request ${requestId} ${r.status}${r.errorMessage ? `: ${r.errorMessage}` : ""}`, { requestId });
      }
      if (clock.now() >= deadline) throw new CertificateRequestFailedError(`certificate request ${requestId} still ${r.status} after waiting`, { final: false, requestId });
      if (r.status !== "pending" && r.status !== "pending_approval" && r.status !== "pending_validation") {
        logger.warn("certificate request in an unknown state, still polling", { requestId, status: r.status });
      }
      await clock.sleep(backoffDelay(n, { baseDelayMs: 1_000, maxDelayMs: 30_000 }, deps.random), signal);
    }
  };

  const issue = async (signal: AbortSignal): Promise<Material> => {
    const t = await resolveTarget(signal);
    const req: IssueCertificateRequest = { profileId: t.profileId, removeRootsFromChain: omitRootOf(entry) };
    let localPrivateKey: string | undefined;
    if (deps.mode === "csr") {
      req.csr = deps.csrText;
      req.attributes = buildAttributes(entry, true);
    } else if (deps.mode === "local") {
      const { generateKeyAndCsr } = await import("./keys.js"); // on demand: see lifecycle.ts
      const gen = await generateKeyAndCsr(localKeyAlgorithm(entry), signatureAlgorithmOf(entry), {
        commonName: entry.attributes["common-name"],
        altNames: entry.attributes["alt-names"],
      });
      localPrivateKey = gen.privateKeyPem;
      req.csr = gen.csrPem;
      req.attributes = buildAttributes(entry, true);
    } else {
      req.attributes = buildAttributes(entry, false);
    }
    const slot = deps.issueSlots ?? ((fn) => fn());
    const r = await slot(() => call((token) => client.issueCertificate(req, { token, signal }), signal));
    let m: Material;
    if (r.certificate) {
      const c = r.certificate;
      m = { certificate: c.certificate, chain: c.certificateChain, privateKey: c.privateKey, serialNumber: c.serialNumber, certificateId: c.certificateId };
    } else if (r.certificateRequestId) {
      await deps.onPending?.(r.certificateRequestId, localPrivateKey);
      logger.info("certificate request pending, polling", { requestId: r.certificateRequestId });
      m = await poll(r.certificateRequestId, signal);
    } else {
      throw new CertificateRequestFailedError(`issuance returned neither a certificate nor a request id (status ${r.status ?? "unknown"})`);
    }
    return { ...m, localPrivateKey, profileId: t.profileId, projectId: t.projectId };
  };

  /** The renew route keeps profile and attributes server-side; a refusal (4xx) falls back to a fresh issuance. */
  const renew = async (certificateId: string, signal: AbortSignal): Promise<Material> => {
    try {
      const slot = deps.issueSlots ?? ((fn) => fn());
      const r = await slot(() => call((token) => client.renewCertificate(certificateId, { removeRootsFromChain: omitRootOf(entry) }, { token, signal }), signal));
      if (r.certificate && r.serialNumber) {
        return { certificate: r.certificate, chain: r.certificateChain, privateKey: r.privateKey, serialNumber: r.serialNumber, certificateId: r.certificateId ?? undefined, ...target };
      }
      if (r.certificateRequestId) {
        await deps.onPending?.(r.certificateRequestId);
        logger.info("certificate request pending, polling", { requestId: r.certificateRequestId });
        return { ...(await poll(r.certificateRequestId, signal)), ...target };
      }
      throw new CertificateRequestFailedError("renewal returned neither a certificate nor a request id");
    } catch (err) {
      if (signal.aborted || !isClientError(err)) throw err;
      logger.warn("renewal refused, issuing a new certificate instead", { error: (err as Error).message });
      return issue(signal);
    }
  };

  /** Polls a request an earlier run (or attempt) left pending, instead of asking for a new one. */
  const resume = async (requestId: string, signal: AbortSignal): Promise<Material> => {
    const m = await poll(requestId, signal);
    const t = await resolveTarget(signal).catch(() => undefined);
    return { ...m, ...t };
  };

  /** certificate-id: the certificate exists on the server; fetch it, never issue. */
  const fetchExisting = async (signal: AbortSignal): Promise<Material> => {
    const id = entry["certificate-id"]!;
    const rec = await call((token) => client.getCertificate(id, { token, signal }), signal);
    if (rec.status !== "active") throw new CertificateRequestFailedError(`certificate ${id} is ${rec.status}, not active`);
    const b = await call((token) => client.getCertificateBundle(id, { token, signal }), signal);
    return { certificate: b.certificate, chain: b.certificateChain, privateKey: b.privateKey, serialNumber: b.serialNumber || rec.serialNumber, certificateId: rec.id };
  };

  const status = async (certificateId: string, signal: AbortSignal) => call((token) => client.getCertificate(certificateId, { token, signal }), signal);

  return { issue, renew, resume, fetchExisting, status };
};
export type Obtainer = ReturnType<typeof createObtainer>;
