import type { AuditService } from "../audit/audit-service.js";
import type { Clock } from "../clock.js";
import type { ProjectAccess } from "../projects/access.js";
import type { ProjectKeys } from "../projects/project-keys.js";
import type { ProjectService } from "../projects/project-service.js";
import type { DynamicSecretStore } from "../../store/dynamic-secrets.js";
import type { FolderStore } from "../../store/folders.js";
import type { IdentityStore } from "../../store/identities.js";
import { dynamicSecretServiceFactory } from "./dynamic-secret-service.js";
import { leaseRevokerFactory } from "./lease-revoker.js";
import { leaseServiceFactory } from "./lease-service.js";
import { leaseSweeperFactory } from "./lease-sweeper.js";
import { locatorFactory } from "./locate.js";
import type { DynamicSecretOptions } from "./options.js";
import { createProviders, type ProviderRegistry } from "./providers/index.js";
import { sealedFactory } from "./sealed.js";

type Deps = {
  store: DynamicSecretStore;
  folders: Pick<FolderStore, "getByPath" | "getLocated">;
  access: Pick<ProjectAccess, "requireProject" | "requireProjectBySlug">;
  projects: Pick<ProjectService, "environmentBySlug">;
  keys: Pick<ProjectKeys, "encrypt" | "decryptText">;
  identities: Pick<IdentityStore, "getIdentity">;
  audit: Pick<AuditService, "record" | "recordAs">;
  clock: Clock;
  options: DynamicSecretOptions;
  /** Tests may pass their own providers; the server uses the real ones. */
  providers?: ProviderRegistry;
};

/** Wires the dynamic-secret services from their dependencies: called once, by the server's composition root. */
export const dynamicSecretModule = ({ store, folders, access, projects, keys, identities, audit, clock, options, providers }: Deps) => {
  const sealed = sealedFactory({ keys, providers: providers ?? createProviders({ connectTimeoutMs: options.connectTimeoutMs }) });
  const locate = locatorFactory({ access, projects, store, folders });
  const revoker = leaseRevokerFactory({ store, sealed, clock });
  return {
    secrets: dynamicSecretServiceFactory({ store, locate, sealed, revoker, audit, clock, minTtlMs: options.minTtlMs }),
    leases: leaseServiceFactory({ store, folders, locate, access, projects, identities, sealed, revoker, audit, clock, minTtlMs: options.minTtlMs }),
    sweeper: leaseSweeperFactory({ store, revoker, audit, clock, intervalMs: options.sweepIntervalMs }),
  };
};
export type DynamicSecretModule = ReturnType<typeof dynamicSecretModule>;
