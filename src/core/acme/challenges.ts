/**
 * Challenges (RFC 8555 7.5.1): a client POSTs `{}` to say "ready"; the challenge turns `processing` and is
 * validated in the background, a few attempts a second apart (a fresh TXT record or a just-started
 * standalone server may need a moment), then `valid` or `invalid` together with its authorization.
 * The client polls the authorization; we answer with Retry-After while it runs.
 */
import type { Clock } from "../clock.js";
import { isoAt, isoNow } from "../time.js";
import type { AcmeChallengeTable } from "../../store/schema.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { AcmeContext, AcmeRequests } from "./request.js";
import type { AcmeOptions } from "./options.js";
import type { AcmeResponse } from "./response.js";
import { VALID_AUTHZ_LIFETIME_MS, type OrderService } from "./orders.js";
import { VALIDATORS as DEFAULT_VALIDATORS, type Validator } from "./validate.js";
import { keyAuthorization, payloadJson } from "./jws.js";
import { AcmeProblem, documentOf, problem } from "./problem.js";
import { challengeView } from "./views.js";

type Deps = {
  store: Pick<EnrollmentStore, "getChallenge" | "getAuthorization" | "getAccount" | "startChallenge" | "restartStaleChallenge" | "abandonChallenge" | "finishChallenge">;
  requests: Pick<AcmeRequests, "authenticate">;
  orders: Pick<OrderService, "authzStatus">;
  options: Pick<AcmeOptions, "http01Override" | "tlsAlpn01Override" | "dnsResolvers" | "validationAttempts" | "validationRetryMs" | "validationTimeoutMs">;
  clock: Clock;
  /** Tests swap in their own validators. */
  validators?: Readonly<Record<string, Validator>>;
  log?: (msg: string, err?: unknown) => void;
};

/** Longer than every attempt of a validation together; a challenge processing longer than this was orphaned. */
const STALE_PROCESSING_MS = 120_000;

export const challengeServiceFactory = ({ store, requests, orders, options, clock, validators = DEFAULT_VALIDATORS, log }: Deps) => {
  const running = new Set<Promise<void>>();
  const stopping = new AbortController();

  const validate = async (challengeId: string): Promise<void> => {
    const c = await store.getChallenge(challengeId);
    const a = c && (await store.getAuthorization(c.authz_id));
    const account = a && (await store.getAccount(a.account_id));
    if (!c || !a || !account) return;
    const identifier = { type: a.identifier_type, value: a.identifier_value };
    const keyAuth = keyAuthorization(c.token, account.thumbprint);
    const validator = validators[c.type];
    let failure: AcmeProblem | undefined;
    for (let attempt = 1; attempt <= options.validationAttempts; attempt++) {
      if (stopping.signal.aborted) break;
      try {
        if (!validator) throw problem("malformed", `Challenge type ${c.type} is not supported`);
        await validator(identifier, c.token, keyAuth, {
          http01Override: options.http01Override, tlsAlpn01Override: options.tlsAlpn01Override, dnsResolvers: options.dnsResolvers, timeoutMs: options.validationTimeoutMs, signal: stopping.signal,
        });
        failure = undefined;
        break;
      } catch (e) {
        failure = e instanceof AcmeProblem ? e : problem("serverInternal", `Validation failed: ${(e as Error).message}`);
        if (attempt < options.validationAttempts) await clock.sleep(options.validationRetryMs, stopping.signal).catch(() => undefined);
      }
    }
    // Stopped midway: the client already said "ready" and will not say it again, so the next server resumes it.
    if (stopping.signal.aborted) return void (await store.abandonChallenge(c.id));
    const now = clock.now();
    const stamp = isoNow(clock);
    if (failure) {
      await store.finishChallenge(
        { id: c.id, status: "invalid", error: JSON.stringify(documentOf(failure.type, failure.detail, { identifier })), updated_at: stamp },
        { id: a.id, status: "invalid", updated_at: stamp },
      );
    } else {
      await store.finishChallenge(
        { id: c.id, status: "valid", validated: stamp, error: null, updated_at: stamp },
        { id: a.id, status: "valid", expires: new Date(now + VALID_AUTHZ_LIFETIME_MS).toISOString(), updated_at: stamp },
      );
    }
  };

  const schedule = (challengeId: string) => {
    const p = validate(challengeId)
      .catch((e) => log?.(`ACME validation of challenge ${challengeId} failed unexpectedly`, e))
      .finally(() => running.delete(p));
    running.add(p);
  };

  /**
   * Validates again the processing challenges whose validation was abandoned (a restart, a crash, a stopped server
   * behind a load balancer). Clients said "ready" once and now only poll, so every read of a challenge or its
   * authorization looks; one reader (one server) wins the restart.
   */
  const resumeStale = async (challenges: readonly AcmeChallengeTable[]) => {
    const now = clock.now();
    for (const c of challenges) {
      if (c.status !== "processing" || Date.parse(c.updated_at) >= now - STALE_PROCESSING_MS) continue;
      if (await store.restartStaleChallenge(c.id, isoAt(now - STALE_PROCESSING_MS), isoAt(now))) schedule(c.id);
    }
  };

  /** POST `{}` starts validation (once); POST-as-GET reads the challenge. */
  const respond = async (ctx: AcmeContext, challengeId: string, body: unknown): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.challenge(challengeId), "kid");
    let c = await store.getChallenge(challengeId);
    const a = c && (await store.getAuthorization(c.authz_id));
    if (!c || !a || a.account_id !== req.account!.id) throw problem("malformed", `Challenge ${challengeId} not found for this account`, { status: 404 });
    const p = payloadJson(req.payload);
    if (p !== undefined) {
      if (typeof p !== "object" || p === null || Array.isArray(p)) throw problem("malformed", "A challenge response is the empty object {}");
      if (c.status === "pending") {
        if (orders.authzStatus(a) !== "pending") throw problem("malformed", `The authorization is ${orders.authzStatus(a)}; its challenges cannot be attempted`);
        const stamp = isoNow(clock);
        if (await store.startChallenge(c.id, stamp)) {
          schedule(c.id);
          c = { ...c, status: "processing", updated_at: stamp };
        }
      }
    }
    await resumeStale([c]);
    return {
      body: challengeView(ctx.urls, c),
      links: [{ url: ctx.urls.authorization(a.id), rel: "up" }],
      ...(c.status === "processing" && { retryAfter: 1 }),
    };
  };

  /** Ends running validations (server shutdown): they stop at their next step and leave the challenge processing. */
  const stop = async () => {
    stopping.abort();
    await Promise.allSettled([...running]);
  };

  /** Tests wait for background validations to finish. */
  const idle = async () => { while (running.size) await Promise.allSettled([...running]); };

  return { respond, resumeStale, stop, idle };
};
export type ChallengeService = ReturnType<typeof challengeServiceFactory>;
