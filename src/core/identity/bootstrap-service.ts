import type { Clock } from "../clock.js";
import type { RequestInfo } from "../actor.js";
import { BadRequestError } from "../errors.js";
import { newId, slugify } from "../ids.js";
import { isoNow } from "../time.js";
import { hashPassword } from "../../crypto/hash.js";
import { randomBytes } from "node:crypto";
import type { IdentityStore } from "../../store/identities.js";
import type { AuditService } from "../audit/audit-service.js";
import type { TokenService } from "./token-service.js";
import { ANYWHERE } from "./ip.js";

type Deps = {
  store: Pick<IdentityStore, "bootstrap" | "isBootstrapped">;
  tokens: Pick<TokenService, "mint">;
  audit: Pick<AuditService, "recordAuth">;
  clock: Clock;
};

/** First user, organization and the instance admin identity, whose token never expires. Once only. */
export const bootstrapServiceFactory = ({ store, tokens, audit, clock }: Deps) => {
  const bootstrap = async (dto: { email: string; password: string; organization: string }, req: RequestInfo) => {
    if (await store.isBootstrapped()) throw new BadRequestError("Instance has already been set up");
    const now = isoNow(clock);
    const email = dto.email.trim().toLowerCase();
    const org = { id: newId(), name: dto.organization, slug: `${slugify(dto.organization)}-${randomBytes(3).toString("hex")}`, created_at: now, updated_at: now };
    const user = {
      id: newId(), email, password_hash: await hashPassword(dto.password), first_name: "Admin", last_name: "User",
      super_admin: 1 as const, org_id: org.id, created_at: now, updated_at: now,
    };
    const identity = {
      id: newId(), org_id: org.id, name: "Instance Admin Identity", org_role: "admin", has_delete_protection: 0 as const,
      metadata: "[]", created_at: now, updated_at: now,
    };
    const { row, token } = tokens.mint(identity.id, "token-auth", { ttl: 0, maxTtl: 0, numUsesLimit: 0, period: 0, trustedIps: ANYWHERE });
    if (!(await store.bootstrap({ org, user, identity, token: row, now }))) throw new BadRequestError("Instance has already been set up");
    await audit.recordAuth(identity.id, req, { action: "bootstrap", resourceType: "organization", resourceId: org.id, orgId: org.id });
    return {
      message: "Successfully bootstrapped instance",
      user: {
        id: user.id, email, username: email, firstName: user.first_name, lastName: user.last_name, superAdmin: true,
        isAccepted: true, isEmailVerified: true, authMethods: ["email"], createdAt: now, updatedAt: now,
      },
      organization: { id: org.id, name: org.name, slug: org.slug, createdAt: now, updatedAt: now },
      identity: {
        id: identity.id, name: identity.name, orgId: org.id, authMethod: null, hasDeleteProtection: false,
        createdAt: now, updatedAt: now, credentials: { token },
      },
    };
  };
  return { bootstrap, isBootstrapped: store.isBootstrapped };
};
export type BootstrapService = ReturnType<typeof bootstrapServiceFactory>;
