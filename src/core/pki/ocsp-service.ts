import type { Clock } from "../clock.js";
import type { PkiStore } from "../../store/pki.js";
import type { CaService } from "./ca-service.js";
import { ocspErrorResponse, respondOcsp } from "./ocsp.js";
import { revocationReasonName } from "./crl-service.js";

type Deps = { store: Pick<PkiStore, "getCertificateBySerial" | "findCaCertificatesBySerial" | "getCa">; cas: Pick<CaService, "issuerFor">; clock: Clock };

/** RFC 6960 responder for one internal CA: good, revoked or unknown, signed by the CA itself. */
/** The "revoked" answer for a certificate or CA certificate row's revocation time and reason code. */
const revoked = (at: string, code: number | null) => {
  const reason = revocationReasonName(code);
  return { status: "revoked" as const, revokedAt: Date.parse(at), ...(reason && { reason }) };
};

export const ocspServiceFactory = ({ store, cas, clock }: Deps) => {
  const respond = async (caId: string, requestDer: Uint8Array): Promise<Buffer> => {
    let issuer;
    try {
      ({ issuer } = await cas.issuerFor(caId, { forRevocation: true }));
    } catch {
      return ocspErrorResponse("unauthorized");
    }
    return respondOcsp(requestDer, {
      issuers: [issuer],
      now: clock.now(),
      lookup: async (_n, _k, serialHex) => {
        const c = await store.getCertificateBySerial(caId, serialHex);
        if (!c) {
          // Or an intermediate CA's certificate this CA signed: revoked when that CA was revoked, else good, so a
          // client checking the whole chain with OCSP does not stop at "unknown".
          for (const cc of await store.findCaCertificatesBySerial(serialHex)) {
            if (cc.revoked_at && cc.issuer_ca_id === caId) return revoked(cc.revoked_at, cc.revocation_reason ?? null);
            const child = await store.getCa(cc.ca_id);
            if (child && (JSON.parse(child.configuration) as { parentCaId?: string | null }).parentCaId === caId) return { status: "good" };
          }
          return { status: "unknown" };
        }
        if (c.status === "revoked") return revoked(c.revoked_at!, c.revocation_reason);
        return { status: "good" };
      },
    });
  };
  return { respond };
};
export type OcspService = ReturnType<typeof ocspServiceFactory>;
