/**
 * External account binding (RFC 8555 7.3.4): an administrator creates credentials under an ACME profile
 * (a key identifier and an HMAC key, shown once); a client proves it holds one by MACing its account key
 * into newAccount (`certbot --eab-kid --eab-hmac-key`, `lego --eab --kid --hmac`, cert-manager's
 * `externalAccountBinding`). A credential may bind several accounts (a client that lost its account key
 * registers again); deleting it stops every account bound to it (request.ts checks on each request).
 */
import { randomBytes } from "node:crypto";
import { flattenedVerify } from "jose";
import type { JWK } from "jose";
import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { newId } from "../ids.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import type { ProjectAccess } from "../projects/access.js";
import type { ProjectKeys } from "../projects/project-keys.js";
import type { ProfileService } from "../pki/profile-service.js";
import { acmeDirectoryPath } from "../pki/profile-service.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { CertificateProfileTable } from "../../store/schema.js";
import type { AcmeContext } from "./request.js";
import { thumbprintOf } from "./jws.js";
import { problem } from "./problem.js";

const MAC_ALGORITHMS = ["HS256", "HS384", "HS512"];

type Deps = {
  store: Pick<EnrollmentStore, "insertEab" | "getEab" | "listEab" | "deleteEab" | "countAccountsByEab">;
  profiles: Pick<ProfileService, "load">;
  access: Pick<ProjectAccess, "requireProject">;
  keys: Pick<ProjectKeys, "encrypt" | "decrypt">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
  publicUrl: () => string;
};

export const eabServiceFactory = ({ store, profiles, access, keys, audit, clock, publicUrl }: Deps) => {
  const purpose = (kid: string) => `acme-eab-hmac-key:${kid}`;

  const acmeProfile = async (actor: Actor, profileId: string, role: "viewer" | "admin"): Promise<CertificateProfileTable> => {
    const p = await profiles.load(profileId);
    await access.requireProject(actor, p.project_id, role);
    if (p.enrollment_type !== "acme") throw new BadRequestError(`Certificate profile '${p.slug}' uses ${p.enrollment_type} enrollment; EAB credentials belong to ACME profiles`);
    return p;
  };

  /** The HMAC key is returned here and never again; it is stored sealed with the project key. */
  const create = async (actor: Actor, profileId: string, dto: { description?: string }) => {
    const p = await acmeProfile(actor, profileId, "admin");
    const kid = newId();
    const hmacKey = randomBytes(32).toString("base64url");
    const now = isoNow(clock);
    await store.insertEab({
      id: kid, profile_id: p.id, description: dto.description ?? null, encrypted_hmac_key: await keys.encrypt(p.project_id, hmacKey, purpose(kid)),
      created_at: now, updated_at: now,
    });
    await audit.record(actor, { action: "create-acme-eab-credential", resourceType: "certificate-profile", resourceId: p.id, projectId: p.project_id, metadata: { kid } });
    return { eabKid: kid, eabHmacKey: hmacKey, directoryUrl: publicUrl() + acmeDirectoryPath(p.id), description: dto.description ?? null, createdAt: now };
  };

  const list = async (actor: Actor, profileId: string) => {
    const p = await acmeProfile(actor, profileId, "viewer");
    const rows = await store.listEab(p.id);
    return Promise.all(rows.map(async (r) => ({ eabKid: r.id, description: r.description, accounts: await store.countAccountsByEab(r.id), createdAt: r.created_at })));
  };

  const remove = async (actor: Actor, profileId: string, kid: string) => {
    const p = await acmeProfile(actor, profileId, "admin");
    const row = await store.getEab(kid);
    if (!row || row.profile_id !== p.id) throw new NotFoundError(`EAB credential ${kid} not found on certificate profile ${p.id}`);
    await store.deleteEab(kid);
    await audit.record(actor, { action: "delete-acme-eab-credential", resourceType: "certificate-profile", resourceId: p.id, projectId: p.project_id, metadata: { kid } });
    return { eabKid: kid, description: row.description, createdAt: row.created_at };
  };

  /**
   * Checks newAccount's externalAccountBinding: a JWS MACed with the credential's key, whose protected header
   * names the credential (kid) and the newAccount URL and whose payload is the account's own public key.
   * Returns the credential id to record on the account.
   */
  const verifyBinding = async (ctx: AcmeContext, binding: unknown, accountJwk: JWK): Promise<string> => {
    if (typeof binding !== "object" || binding === null) throw problem("malformed", "externalAccountBinding must be a flattened JWS object");
    const b = binding as Record<string, unknown>;
    if (typeof b.protected !== "string" || typeof b.payload !== "string" || typeof b.signature !== "string")
      throw problem("malformed", "externalAccountBinding needs string members protected, payload and signature");
    let header: Record<string, unknown>;
    try { header = JSON.parse(Buffer.from(b.protected, "base64url").toString("utf8")); } catch { throw problem("malformed", "externalAccountBinding.protected is not base64url JSON"); }
    if (typeof header.alg !== "string" || !MAC_ALGORITHMS.includes(header.alg))
      throw problem("badSignatureAlgorithm", `externalAccountBinding must be MACed with ${MAC_ALGORITHMS.join(", ")}`, { algorithms: MAC_ALGORITHMS });
    if (header.nonce !== undefined) throw problem("malformed", "externalAccountBinding must not carry a nonce (RFC 8555 7.3.4)");
    if (header.url !== ctx.urls.newAccount) throw problem("unauthorized", "externalAccountBinding.url must be this directory's newAccount URL");
    const kid = header.kid;
    const cred = typeof kid === "string" ? await store.getEab(kid) : undefined;
    if (!cred || cred.profile_id !== ctx.profile.id) throw problem("unauthorized", `Unknown EAB key identifier ${JSON.stringify(kid)} for this directory`);
    const key = Buffer.from((await keys.decrypt(ctx.profile.project_id, cred.encrypted_hmac_key, purpose(cred.id))).toString("utf8"), "base64url");
    let payload: Uint8Array;
    try {
      payload = (await flattenedVerify({ protected: b.protected, payload: b.payload, signature: b.signature }, key, { algorithms: MAC_ALGORITHMS })).payload;
    } catch {
      throw problem("unauthorized", "The external account binding MAC does not verify: check the EAB HMAC key");
    }
    let bound: JWK;
    try { bound = JSON.parse(Buffer.from(payload).toString("utf8")); } catch { throw problem("malformed", "externalAccountBinding.payload is not a JWK"); }
    if ((await thumbprintOf(bound)) !== (await thumbprintOf(accountJwk)))
      throw problem("unauthorized", "externalAccountBinding binds a different key than the one this request is signed with");
    return cred.id;
  };

  return { create, list, remove, verifyBinding };
};
export type EabService = ReturnType<typeof eabServiceFactory>;
