/**
 * Accounts (RFC 8555 7.3): creation with optional external account binding, lookup by key
 * (onlyReturnExisting), contact updates, deactivation and key rollover.
 */
import type { JWK } from "jose";
import type { Clock } from "../clock.js";
import type { RequestInfo } from "../actor.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { AcmeAccountTable } from "../../store/schema.js";
import type { AcmeContext, AcmeRequests } from "./request.js";
import type { EabService } from "./eab.js";
import type { RateLimiter } from "./rate-limit.js";
import type { AcmeOptions } from "./options.js";
import type { AcmeResponse } from "./response.js";
import { parseJws, payloadJson, publicJwk, thumbprintOf, verifyJws } from "./jws.js";
import { problem } from "./problem.js";
import { accountView } from "./views.js";

type Deps = {
  store: Pick<EnrollmentStore, "insertAccount" | "getAccountByThumbprint" | "updateAccount" | "deactivateAccount" | "listOrderIds" | "getEab">;
  requests: Pick<AcmeRequests, "authenticate">;
  eab: Pick<EabService, "verifyBinding">;
  limits: RateLimiter;
  options: Pick<AcmeOptions, "accountsPerHour">;
  audit: Pick<AuditService, "recordAs">;
  clock: Clock;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** mailto: contacts only (RFC 8555 7.3: servers may restrict schemes). */
const checkContact = (contact: unknown): string[] => {
  if (contact === undefined) return [];
  if (!Array.isArray(contact) || contact.some((c) => typeof c !== "string")) throw problem("malformed", "contact must be an array of URL strings");
  for (const c of contact as string[]) {
    if (!c.startsWith("mailto:")) throw problem("unsupportedContact", `Contact ${JSON.stringify(c)}: only mailto: URLs are supported`);
    if (!/^mailto:[^@\s,?]+@[^@\s,?]+\.[^@\s,?]+$/.test(c)) throw problem("invalidContact", `Contact ${JSON.stringify(c)} is not a valid mailto: address`);
  }
  return contact as string[];
};

export const accountServiceFactory = ({ store, requests, eab, limits, options, audit, clock }: Deps) => {
  const found = (ctx: AcmeContext, a: AcmeAccountTable, status = 200): AcmeResponse => ({ status, body: accountView(ctx.urls, a), location: ctx.urls.account(a.id) });

  /** newAccount: an existing key answers 200 with its account; a new key needs EAB unless the profile skips it. */
  const newAccount = async (ctx: AcmeContext, body: unknown, from: RequestInfo): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.newAccount, "jwk");
    const p = payloadJson(req.payload);
    if (!isObject(p)) throw problem("malformed", "newAccount needs a JSON object payload");
    const jwk = publicJwk(req.jwk);
    const thumbprint = await thumbprintOf(jwk);
    const existing = await store.getAccountByThumbprint(ctx.profile.id, thumbprint);
    if (existing) {
      if (existing.status !== "valid") throw problem("unauthorized", `The account of this key is ${existing.status}`);
      if (ctx.config.skipEabBinding || !existing.eab_id || (await store.getEab(existing.eab_id))) return found(ctx, existing);
      // Its credential was withdrawn. A client that keeps its account key (cert-manager) comes back with the new
      // credential an administrator gave it: that binds the account anew; without one it stays refused.
      if (p.externalAccountBinding === undefined)
        throw problem("unauthorized", "The external account binding of this account was withdrawn by an administrator: register again with a new EAB credential");
      const eabId = await eab.verifyBinding(ctx, p.externalAccountBinding, jwk);
      const now = isoNow(clock);
      await store.updateAccount(existing.id, { eab_id: eabId, updated_at: now });
      await audit.recordAs({ type: "acme-account", id: existing.id }, from, {
        action: "acme-rebind-account", resourceType: "acme-account", resourceId: existing.id, projectId: ctx.profile.project_id,
        metadata: { profile: ctx.profile.slug, eabKid: eabId },
      });
      return found(ctx, { ...existing, eab_id: eabId, updated_at: now });
    }
    if (p.onlyReturnExisting === true) throw problem("accountDoesNotExist", "No account exists for this key at this directory");
    if (p.termsOfServiceAgreed !== undefined && typeof p.termsOfServiceAgreed !== "boolean") throw problem("malformed", "termsOfServiceAgreed must be a boolean");
    const contact = checkContact(p.contact);
    limits.take(`new-account:${from.ip}`, options.accountsPerHour, "new accounts from this address");
    let eabId: string | null = null;
    if (!ctx.config.skipEabBinding) {
      if (p.externalAccountBinding === undefined)
        throw problem("externalAccountRequired", "This directory requires external account binding: ask the KMS administrator for an EAB key identifier and HMAC key");
      eabId = await eab.verifyBinding(ctx, p.externalAccountBinding, jwk);
    }
    const now = isoNow(clock);
    const row: AcmeAccountTable = {
      id: newId(), profile_id: ctx.profile.id, thumbprint, jwk: JSON.stringify(jwk), status: "valid", contact: JSON.stringify(contact),
      eab_id: eabId, created_at: now, updated_at: now,
    };
    try {
      await store.insertAccount(row);
    } catch (e) {
      // Two registrations of one key racing: the loser gets the winner's account, as a second newAccount would.
      const winner = await store.getAccountByThumbprint(ctx.profile.id, thumbprint);
      if (winner) return found(ctx, winner);
      throw e;
    }
    await audit.recordAs({ type: "acme-account", id: row.id }, from, {
      action: "acme-new-account", resourceType: "acme-account", resourceId: row.id, projectId: ctx.profile.project_id,
      metadata: { profile: ctx.profile.slug, eabKid: eabId },
    });
    return found(ctx, row, 201);
  };

  /** POST to the account URL: read (POST-as-GET), update contact, or deactivate (RFC 8555 7.3.2, 7.3.6). */
  const account = async (ctx: AcmeContext, accountId: string, body: unknown, from: RequestInfo): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.account(accountId), "kid");
    const a = req.account!;
    if (a.id !== accountId) throw problem("unauthorized", "A request to an account URL must be signed by that account");
    const p = payloadJson(req.payload);
    if (p === undefined) return found(ctx, a);
    if (!isObject(p)) throw problem("malformed", "The account update must be a JSON object");
    const now = isoNow(clock);
    if (p.status !== undefined) {
      if (p.status !== "deactivated") throw problem("malformed", `status: a client can only set "deactivated"`);
      await store.deactivateAccount(a.id, now);
      await audit.recordAs({ type: "acme-account", id: a.id }, from, { action: "acme-deactivate-account", resourceType: "acme-account", resourceId: a.id, projectId: ctx.profile.project_id });
      return found(ctx, { ...a, status: "deactivated", updated_at: now });
    }
    if (p.contact !== undefined) {
      const contact = JSON.stringify(checkContact(p.contact));
      await store.updateAccount(a.id, { contact, updated_at: now });
      return found(ctx, { ...a, contact, updated_at: now });
    }
    return found(ctx, a);
  };

  /** Orders of an account (RFC 8555 7.1.2.1). */
  const orders = async (ctx: AcmeContext, accountId: string, body: unknown): Promise<AcmeResponse> => {
    const req = await requests.authenticate(ctx, body, ctx.urls.accountOrders(accountId), "kid");
    if (req.account!.id !== accountId) throw problem("unauthorized", "Only the account itself may list its orders");
    return { body: { orders: (await store.listOrderIds(accountId)).map((o) => ctx.urls.order(o.id)) } };
  };

  /**
   * Key rollover (RFC 8555 7.3.5): the outer JWS is signed by the current key (kid); its payload is an inner JWS
   * signed by the new key (jwk) whose payload names the account and the old key.
   */
  const keyChange = async (ctx: AcmeContext, body: unknown, from: RequestInfo): Promise<AcmeResponse> => {
    const outer = await requests.authenticate(ctx, body, ctx.urls.keyChange, "kid");
    const a = outer.account!;
    const innerJws = payloadJson(outer.payload);
    const inner = parseJws(innerJws, { requireNonce: false });
    if (inner.header.jwk === undefined || inner.header.kid !== undefined) throw problem("malformed", "The inner JWS of a key change must carry the new key as jwk");
    if (inner.header.url !== outer.header.url) throw problem("malformed", "The inner JWS url must equal the outer JWS url");
    const newJwk = publicJwk(inner.header.jwk);
    const p = payloadJson(await verifyJws(inner, newJwk));
    if (!isObject(p) || typeof p.account !== "string" || !isObject(p.oldKey)) throw problem("malformed", "The key change payload needs account and oldKey");
    if (p.account !== ctx.urls.account(a.id)) throw problem("unauthorized", "The key change names another account than the one that signed it");
    if ((await thumbprintOf(p.oldKey as JWK)) !== a.thumbprint) throw problem("unauthorized", "oldKey is not this account's current key");
    const thumbprint = await thumbprintOf(newJwk);
    const taken = await store.getAccountByThumbprint(ctx.profile.id, thumbprint);
    if (taken) throw problem("malformed", "The new key already belongs to an account", { status: 409, location: ctx.urls.account(taken.id) });
    const now = isoNow(clock);
    await store.updateAccount(a.id, { jwk: JSON.stringify(newJwk), thumbprint, updated_at: now });
    await audit.recordAs({ type: "acme-account", id: a.id }, from, { action: "acme-key-change", resourceType: "acme-account", resourceId: a.id, projectId: ctx.profile.project_id });
    return found(ctx, { ...a, jwk: JSON.stringify(newJwk), thumbprint, updated_at: now });
  };

  return { newAccount, account, orders, keyChange };
};
export type AccountService = ReturnType<typeof accountServiceFactory>;
