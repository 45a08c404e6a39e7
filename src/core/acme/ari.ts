/**
 * ACME Renewal Information (RFC 9773). A certificate is named by its certificate ID,
 * base64url(authorityKeyIdentifier) "." base64url(serial number INTEGER value octets) (section 4.1); the
 * renewalInfo resource suggests a window to renew in, and orders may say which certificate they replace.
 */
import type { Clock } from "../clock.js";
import type { PkiStore } from "../../store/pki.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { AcmeAccountTable, CertificateTable } from "../../store/schema.js";
import { parseCertificate } from "../pki/certificate.js";
import type { AcmeContext } from "./request.js";
import type { AcmeResponse } from "./response.js";
import { problem } from "./problem.js";

/** Clients poll renewalInfo about this often (section 4.3 suggests hours). */
export const ARI_RETRY_AFTER_SECONDS = 6 * 3600;

/** DER INTEGER value octets of a positive serial given as hex: minimal, with a 0x00 pad when the top bit is set. */
const serialOctets = (hex: string): Buffer => {
  let b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
};

export const certificateIdOf = (pemOrDer: string | Uint8Array): string => {
  const c = parseCertificate(pemOrDer);
  if (!c.authorityKeyId) throw new Error("certificate has no authority key identifier");
  return `${c.authorityKeyId.toString("base64url")}.${serialOctets(c.serialHex).toString("base64url")}`;
};

/** Splits a certificate ID; the serial comes back as hex without leading zero octets (our stored form). */
export const parseCertificateId = (certId: string): { keyId: Buffer; serialHex: string } => {
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(certId);
  if (!m) throw problem("malformed", `${JSON.stringify(certId.slice(0, 200))} is not a certificate ID (base64url(AKI).base64url(serial), RFC 9773 4.1)`);
  const keyId = Buffer.from(m[1]!, "base64url");
  const serial = Buffer.from(m[2]!, "base64url");
  let i = 0;
  while (i < serial.length - 1 && serial[i] === 0) i++;
  return { keyId, serialHex: serial.subarray(i).toString("hex") };
};

/**
 * The suggested renewal window: from two thirds of the lifetime to three quarters (Let's Encrypt's habit),
 * so a 90-day certificate renews around day 60-67. A revoked certificate gets a window that has already
 * begun, which tells clients to replace it now (section 4.2).
 */
export const suggestedWindow = (c: Pick<CertificateTable, "not_before" | "not_after" | "status">, now: number) => {
  if (c.status === "revoked") return { start: new Date(now - 3_600_000).toISOString(), end: new Date(now - 60_000).toISOString() };
  const nb = Date.parse(c.not_before);
  const life = Date.parse(c.not_after) - nb;
  return { start: new Date(nb + Math.round((life * 2) / 3)).toISOString(), end: new Date(nb + Math.round((life * 3) / 4)).toISOString() };
};

type Deps = {
  pki: Pick<PkiStore, "getCertificateBySerial">;
  store: Pick<EnrollmentStore, "getOrderByCertificate" | "listOrdersReplacing">;
  clock: Clock;
};

export const ariServiceFactory = ({ pki, store, clock }: Deps) => {
  /** The certificate a certificate ID names, issued under this profile (its AKI must match too). */
  const find = async (ctx: AcmeContext, certId: string): Promise<CertificateTable> => {
    const { keyId, serialHex } = parseCertificateId(certId);
    const row = ctx.profile.ca_id ? await pki.getCertificateBySerial(ctx.profile.ca_id, serialHex) : undefined;
    if (!row || row.profile_id !== ctx.profile.id) throw problem("malformed", `No certificate ${certId} was issued by this directory`, { status: 404 });
    const aki = parseCertificate(row.certificate).authorityKeyId;
    if (!aki || !aki.equals(keyId)) throw problem("malformed", `No certificate ${certId} was issued by this directory`, { status: 404 });
    return row;
  };

  /** GET renewalInfo/<certID>: unauthenticated, like the rest of a CA's public certificate data. */
  const renewalInfo = async (ctx: AcmeContext, certId: string): Promise<AcmeResponse> => {
    const row = await find(ctx, certId);
    return { body: { suggestedWindow: suggestedWindow(row, clock.now()) }, retryAfter: ARI_RETRY_AFTER_SECONDS };
  };

  /**
   * newOrder's `replaces` (section 5): the certificate must exist here, have been ordered by the same account,
   * share an identifier with the new order, and not be replaced already by another order that is not invalid
   * (an unfinished order past its expiry counts as invalid): that is `alreadyReplaced`, 409.
   */
  const certificateForReplacement = async (ctx: AcmeContext, certId: string, account: AcmeAccountTable, identifiers: readonly { value: string }[]): Promise<CertificateTable> => {
    const row = await find(ctx, certId);
    const order = await store.getOrderByCertificate(row.id);
    if (!order || order.account_id !== account.id) throw problem("unauthorized", `Certificate ${certId} was not ordered by this account`);
    const names = new Set(row.alt_names.split(",").filter(Boolean).map((n) => n.toLowerCase()));
    if (!identifiers.some((i) => names.has(i.value.toLowerCase())))
      throw problem("malformed", `Certificate ${certId} shares no identifier with this order, so this order cannot replace it`);
    const now = clock.now();
    const live = (await store.listOrdersReplacing(certId)).find((o) => o.status === "valid" || (o.status !== "invalid" && Date.parse(o.expires) > now));
    if (live) throw problem("alreadyReplaced", `Certificate ${certId} is already replaced by order ${live.id} (${live.status})`);
    return row;
  };

  return { renewalInfo, certificateForReplacement };
};
export type AriService = ReturnType<typeof ariServiceFactory>;
