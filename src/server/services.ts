import type { Kysely } from "kysely";
import type { Clock } from "../core/clock.js";
import type { RootKeyring } from "../crypto/envelope.js";
import type { Database } from "../store/schema.js";
import { identityStore } from "../store/identities.js";
import { projectStore } from "../store/projects.js";
import { auditStore } from "../store/audit.js";
import { auditServiceFactory } from "../core/audit/audit-service.js";
import { tokenServiceFactory } from "../core/identity/token-service.js";
import { identityServiceFactory } from "../core/identity/identity-service.js";
import { universalAuthServiceFactory } from "../core/identity/universal-auth-service.js";
import { bootstrapServiceFactory } from "../core/identity/bootstrap-service.js";
import { projectAccessFactory } from "../core/projects/access.js";
import { projectKeysFactory } from "../core/projects/project-keys.js";
import { projectServiceFactory } from "../core/projects/project-service.js";

export interface ServiceOptions {
  db: Kysely<Database>;
  root: RootKeyring;
  clock: Clock;
  /** Public base URL of this server (CRL distribution points and AIA URLs point here); known once listening. */
  publicUrl: () => string;
}

/** Builds every service from the store up. Called once per server process (the composition root). */
export const createServices = ({ db, root, clock, publicUrl }: ServiceOptions) => {
  const stores = { identities: identityStore(db), projects: projectStore(db), audit: auditStore(db) };
  const audit = auditServiceFactory({ store: stores.audit, clock });
  const tokens = tokenServiceFactory({ store: stores.identities, audit, clock });
  const identities = identityServiceFactory({ store: stores.identities, audit, clock });
  const universalAuth = universalAuthServiceFactory({ store: stores.identities, identities, tokens, audit, clock });
  const bootstrap = bootstrapServiceFactory({ store: stores.identities, tokens, audit, clock });
  const access = projectAccessFactory({ store: stores.projects });
  const keys = projectKeysFactory({ root, store: stores.projects });
  const projects = projectServiceFactory({ store: stores.projects, identities: stores.identities, access, keys, audit, clock });
  return { clock, publicUrl, root, audit, tokens, identities, universalAuth, bootstrap, access, keys, projects };
};
export type Services = ReturnType<typeof createServices>;
