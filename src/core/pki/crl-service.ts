import type { Clock } from "../clock.js";
import type { Actor } from "../actor.js";
import { NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoAt, isoNow } from "../time.js";
import { toPem } from "../../crypto/der/pem.js";
import type { PkiStore } from "../../store/pki.js";
import type { CaCrlTable } from "../../store/schema.js";
import type { ProjectAccess } from "../projects/access.js";
import { REVOCATION_REASONS, type RevocationReason } from "./algorithms.js";
import { buildCrl } from "./crl.js";
import type { CaService } from "./ca-service.js";

/** Infisical re-signs CRLs with nextUpdate = thisUpdate + 7 days (api.md 7.3); we re-sign a day before that. */
const CRL_VALIDITY_MS = 7 * 86_400_000;
const REFRESH_BEFORE_MS = 86_400_000;

const REASON_BY_CODE = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]));
export const revocationReasonName = (code: number | null): RevocationReason | undefined => (code === null ? undefined : REASON_BY_CODE.get(code));

/** The CRL's identity and URL exist before its first signature: issued certificates point at it. */
export const crlRowsFactory = ({ clock, publicUrl }: { clock: Clock; publicUrl: () => string }) => ({
  newCrlRow: (caId: string): CaCrlTable => ({
    id: newId(), ca_id: caId, crl_number: 0, der: "", this_update: isoAt(0), next_update: isoAt(0), created_at: isoNow(clock), updated_at: isoNow(clock),
  }),
  crlUrl: (crlId: string) => `${publicUrl()}/api/v1/pki/crl/${crlId}/der`,
});
export type CrlRows = ReturnType<typeof crlRowsFactory>;

type Deps = {
  store: PkiStore;
  cas: Pick<CaService, "issuerFor" | "loadCa">;
  access: Pick<ProjectAccess, "requireProject">;
  clock: Clock;
};

export const crlServiceFactory = ({ store, cas, access, clock }: Deps) => {
  /** Re-signs a CA's CRL with every revoked certificate; the CRL number only grows. */
  const regenerate = async (caId: string): Promise<CaCrlTable> => {
    const row = await store.getCrlByCa(caId);
    if (!row) throw new NotFoundError(`Certificate authority ${caId} has no CRL`);
    const { issuer } = await cas.issuerFor(caId, { forRevocation: true });
    const now = clock.now();
    // Its revoked certificates, and the certificates of CAs it signed that were revoked since (ca-service revoke).
    const revoked = [...(await store.listRevoked(caId)), ...(await store.listRevokedCaCertificates(caId))].map((r) => ({
      serialNumber: r.serial_number, revokedAt: Date.parse(r.revoked_at!), ...(revocationReasonName(r.revocation_reason ?? null) && { reason: revocationReasonName(r.revocation_reason ?? null) }),
    }));
    const crl = await buildCrl(issuer, { thisUpdate: now, nextUpdate: now + CRL_VALIDITY_MS, crlNumber: row.crl_number + 1, revoked });
    const patch = {
      crl_number: row.crl_number + 1, der: crl.der.toString("base64"), this_update: crl.thisUpdate.toISOString(),
      next_update: crl.nextUpdate.toISOString(), updated_at: isoAt(now),
    };
    await store.updateCrl(row.id, patch);
    return { ...row, ...patch };
  };

  const fresh = async (row: CaCrlTable) =>
    row.der === "" || Date.parse(row.next_update) - REFRESH_BEFORE_MS <= clock.now() ? regenerate(row.ca_id) : row;

  /** DER of a CRL by id, for the unauthenticated distribution point; re-signed first when due. */
  const der = async (crlId: string): Promise<Buffer> => {
    const row = await store.getCrl(crlId);
    if (!row) throw new NotFoundError(`CRL with ID ${crlId} not found`);
    return Buffer.from((await fresh(row)).der, "base64");
  };

  const listForCa = async (actor: Actor, caId: string) => {
    const ca = await cas.loadCa(caId);
    await access.requireProject(actor, ca.project_id, "viewer");
    const row = await store.getCrlByCa(caId);
    if (!row) return [];
    const r = await fresh(row);
    return [{ id: r.id, crl: toPem("X509 CRL", Buffer.from(r.der, "base64")) }];
  };

  /** Re-signs every CRL that is within a day of its nextUpdate, until the signal aborts. */
  const runRefresher = async (signal: AbortSignal, intervalMs = 3_600_000) => {
    while (!signal.aborted) {
      for (const row of await store.listCrls().catch(() => [])) {
        if (signal.aborted) return;
        await fresh(row).catch(() => undefined); // a disabled or deleted CA is retried next round
      }
      await clock.sleep(intervalMs, signal).catch(() => undefined);
    }
  };

  return { regenerate, der, listForCa, runRefresher };
};
export type CrlService = ReturnType<typeof crlServiceFactory>;
