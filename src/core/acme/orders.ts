/**
 * Orders and authorizations (RFC 8555 7.4, 7.5). An order gets one authorization per identifier, each with
 * http-01, dns-01 and tls-alpn-01 challenges (dns-01 only for wildcards, http-01 only for IP addresses, RFC 8738). A
 * still-valid authorization of the same account is reused (7.1.3), so a renewal revalidates nothing. Order
 * status follows its authorizations and is settled lazily, whenever an order is read.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { newId } from "../ids.js";
import { isoAt, isoNow } from "../time.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { AcmeAccountTable, AcmeAuthorizationTable, AcmeChallengeTable, AcmeOrderTable } from "../../store/schema.js";
import type { AcmeContext, AcmeRequests } from "./request.js";
import type { RateLimiter } from "./rate-limit.js";
import type { AcmeOptions } from "./options.js";
import type { AcmeResponse } from "./response.js";
import type { AriService } from "./ari.js";
import { payloadJson } from "./jws.js";
import { orderIdentifiers } from "./identifiers.js";
import { documentOf, problem, type ProblemDocument } from "./problem.js";
import { authorizationView, orderView } from "./views.js";

const DAY = 86_400_000;
/** How long a client has to complete a pending order or authorization. */
export const PENDING_LIFETIME_MS = 7 * DAY;
/** How long a validated authorization may be reused (Let's Encrypt uses 30 days). */
export const VALID_AUTHZ_LIFETIME_MS = 30 * DAY;

type Deps = {
  store: Pick<EnrollmentStore,
    "insertOrder" | "getOrder" | "updateOrder" | "listAuthorizations" | "listChallenges" | "findValidAuthorization" | "getAuthorization" | "updateAuthorization">;
  requests: Pick<AcmeRequests, "authenticate">;
  ari: Pick<AriService, "certificateForReplacement">;
  limits: RateLimiter;
  options: Pick<AcmeOptions, "ordersPerHour">;
  clock: Clock;
  /** Restarts abandoned validations among these challenges (challenges.ts; late-bound, it is built after us). */
  resumeStale?: (challenges: readonly AcmeChallengeTable[]) => Promise<void>;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const token = () => randomBytes(32).toString("base64url");

export const orderServiceFactory = ({ store, requests, ari, limits, options, clock, resumeStale }: Deps) => {
  /** An authorization past its expiry reads as expired whatever it was (RFC 8555 7.1.6). */
  const authzStatus = (a: AcmeAuthorizationTable): string =>
    (a.status === "pending" || a.status === "valid") && Date.parse(a.expires) <= clock.now() ? "expired" : a.status;

  /** Brings a pending or ready order's status in line with its authorizations and expiry; persists a change. */
  const settle = async (o: AcmeOrderTable, authzs: AcmeAuthorizationTable[], challenges: AcmeChallengeTable[]): Promise<AcmeOrderTable> => {
    if (o.status !== "pending" && o.status !== "ready") return o;
    let next: { status: string; error?: ProblemDocument } | undefined;
    const failed = authzs.find((a) => !["pending", "valid"].includes(authzStatus(a)));
    if (Date.parse(o.expires) <= clock.now()) next = { status: "invalid", error: documentOf("malformed", "The order expired before it was finalized") };
    else if (failed) {
      const cause = challenges.find((c) => c.authz_id === failed.id && c.error);
      next = {
        status: "invalid",
        error: documentOf("unauthorized", `The authorization for ${failed.identifier_value} is ${authzStatus(failed)}`, {
          identifier: { type: failed.identifier_type, value: failed.identifier_value },
          ...(cause && { subproblems: [JSON.parse(cause.error!) as ProblemDocument] }),
        }),
      };
    } else if (o.status === "pending" && authzs.every((a) => authzStatus(a) === "valid")) next = { status: "ready" };
    if (!next) return o;
    const patch = { status: next.status, error: next.error ? JSON.stringify(next.error) : null, updated_at: isoNow(clock) };
    await store.updateOrder(o.id, patch);
    return { ...o, ...patch };
  };

  /** The order with its current status, for its owner only. */
  const loadOrder = async (ctx: AcmeContext, orderId: string, account: AcmeAccountTable) => {
    const o = await store.getOrder(orderId);
    if (!o || o.profile_id !== ctx.profile.id) throw problem("malformed", `Order ${orderId} not found`, { status: 404 });
    if (o.account_id !== account.id) throw problem("unauthorized", "This order belongs to another account");
    const authzs = await store.listAuthorizations(o.id);
    const settled = await settle(o, authzs, await store.listChallenges(authzs.map((a) => a.id)));
    return { order: settled, authzIds: authzs.map((a) => a.id) };
  };

  const newOrder = async (ctx: AcmeContext, body: unknown): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.newOrder, "kid");
    const account = req.account!;
    const p = payloadJson(req.payload);
    if (!isObject(p)) throw problem("malformed", "newOrder needs a JSON object payload");
    const identifiers = orderIdentifiers(p.identifiers);
    const dateOf = (v: unknown, field: string) => {
      if (v === undefined) return null;
      if (typeof v !== "string" || Number.isNaN(Date.parse(v))) throw problem("malformed", `${field} must be an RFC 3339 date`);
      return new Date(v).toISOString();
    };
    const notBefore = dateOf(p.notBefore, "notBefore");
    const notAfter = dateOf(p.notAfter, "notAfter");
    if (notBefore && notAfter && notBefore >= notAfter) throw problem("malformed", "notBefore must be before notAfter");
    // Said here, before any challenge is done: at finalize the order could only become invalid.
    if (notBefore && !notAfter) throw problem("malformed", "notBefore needs notAfter as well: give both, only notAfter, or neither (the profile's lifetime)");
    if (notAfter && Date.parse(notAfter) <= clock.now()) throw problem("malformed", `notAfter ${notAfter} is in the past: the certificate would be expired when issued`);
    let replaces: string | null = null;
    if (p.replaces !== undefined) {
      if (typeof p.replaces !== "string") throw problem("malformed", "replaces must be a certificate ID string (RFC 9773)");
      await ari.certificateForReplacement(ctx, p.replaces, account, identifiers);
      replaces = p.replaces;
    }
    limits.take(`new-order:${account.id}`, options.ordersPerHour, "new orders for this account");

    const now = clock.now();
    const stamp = isoAt(now);
    const orderId = newId();
    const authzs: AcmeAuthorizationTable[] = [];
    const challenges: AcmeChallengeTable[] = [];
    for (const id of identifiers) {
      const wildcard = id.type === "dns" && id.value.startsWith("*.");
      const value = wildcard ? id.value.slice(2) : id.value;
      const authzId = newId();
      const reused = ctx.config.skipDnsOwnershipVerification ? undefined : await store.findValidAuthorization(account.id, id.type, value, wildcard, stamp);
      const valid = ctx.config.skipDnsOwnershipVerification || !!reused;
      authzs.push({
        id: authzId, account_id: account.id, order_id: orderId, identifier_type: id.type, identifier_value: value, wildcard: wildcard ? 1 : 0,
        status: valid ? "valid" : "pending", expires: reused?.expires ?? isoAt(now + (valid ? VALID_AUTHZ_LIFETIME_MS : PENDING_LIFETIME_MS)), created_at: stamp, updated_at: stamp,
      });
      // tls-alpn-01 for names only: for an IP address (RFC 8738 6) it would need reverse-DNS SNI, which we do not send.
      const types = wildcard ? ["dns-01"] : id.type === "ip" ? ["http-01"] : ["http-01", "dns-01", "tls-alpn-01"];
      const previous = reused ? (await store.listChallenges([reused.id])).filter((c) => c.status === "valid") : [];
      for (const type of previous.length ? previous.map((c) => c.type) : types) {
        const was = previous.find((c) => c.type === type);
        challenges.push({
          id: newId(), authz_id: authzId, type, token: was?.token ?? token(), status: valid ? "valid" : "pending",
          // A profile that skips ownership checks marks its challenges valid at creation: nothing was fetched.
          validated: valid ? (was?.validated ?? stamp) : null, error: null, created_at: stamp, updated_at: stamp,
        });
      }
    }
    const order: AcmeOrderTable = {
      id: orderId, account_id: account.id, profile_id: ctx.profile.id, status: authzs.every((a) => a.status === "valid") ? "ready" : "pending",
      identifiers: JSON.stringify(identifiers), not_before: notBefore, not_after: notAfter, expires: isoAt(now + PENDING_LIFETIME_MS),
      error: null, certificate_id: null, replaces, created_at: stamp, updated_at: stamp,
    };
    await store.insertOrder(order, authzs, challenges);
    return { status: 201, body: orderView(ctx.urls, order, authzs.map((a) => a.id)), location: ctx.urls.order(order.id) };
  };

  /** POST-as-GET on an order. */
  const getOrder = async (ctx: AcmeContext, orderId: string, body: unknown): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.order(orderId), "kid");
    const { order, authzIds } = await loadOrder(ctx, orderId, req.account!);
    return { body: orderView(ctx.urls, order, authzIds), location: ctx.urls.order(order.id), ...(order.status === "processing" && { retryAfter: 1 }) };
  };

  /** POST-as-GET on an authorization, or {status: "deactivated"} to give it up (RFC 8555 7.5.2). */
  const authorization = async (ctx: AcmeContext, authzId: string, body: unknown): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.authorization(authzId), "kid");
    let a = await store.getAuthorization(authzId);
    if (!a || a.account_id !== req.account!.id) throw problem("malformed", `Authorization ${authzId} not found for this account`, { status: 404 });
    const p = payloadJson(req.payload);
    if (p !== undefined) {
      if (!isObject(p) || (p.status !== undefined && p.status !== "deactivated")) throw problem("malformed", `An authorization update may only set status "deactivated"`);
      if (p.status === "deactivated") {
        if (!["pending", "valid"].includes(authzStatus(a))) throw problem("malformed", `Authorization is ${authzStatus(a)} and cannot be deactivated`);
        const patch = { status: "deactivated", updated_at: isoNow(clock) };
        await store.updateAuthorization(a.id, patch);
        a = { ...a, ...patch };
      }
    }
    const challenges = await store.listChallenges([a.id]);
    await resumeStale?.(challenges);
    const status = authzStatus(a);
    const busy = status === "pending" && challenges.some((c) => c.status === "processing");
    return { body: authorizationView(ctx.urls, a, challenges, status), ...(busy && { retryAfter: 1 }) };
  };

  return { newOrder, getOrder, authorization, loadOrder, settle, authzStatus };
};
export type OrderService = ReturnType<typeof orderServiceFactory>;
