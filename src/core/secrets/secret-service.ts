import type { Clock } from "../clock.js";
import type { AuditService } from "../audit/audit-service.js";
import type { ProjectAccess } from "../projects/access.js";
import type { ProjectKeys } from "../projects/project-keys.js";
import type { FolderStore } from "../../store/folders.js";
import type { ProjectStore } from "../../store/projects.js";
import type { SecretStore } from "../../store/secrets.js";
import { secretCodecFactory } from "./secret-codec.js";
import { secretReaderFactory } from "./secret-reader.js";
import { secretWriterFactory } from "./secret-writer.js";
import { secretBatchFactory } from "./secret-batch.js";
import type { ScopeResolver } from "./scope.js";
import type { SecretChangeFeed } from "./change-feed.js";

type Deps = {
  scopes: ScopeResolver;
  access: Pick<ProjectAccess, "requireProject">;
  store: SecretStore;
  folders: Pick<FolderStore, "getByPath" | "listImports">;
  environments: Pick<ProjectStore, "getEnvironmentBySlug" | "getEnvironment">;
  keys: Pick<ProjectKeys, "encrypt" | "decryptText">;
  audit: Pick<AuditService, "record" | "entry">;
  clock: Clock;
  /** Told after each committed write (GET /api/v1/secrets/events). */
  changes?: Pick<SecretChangeFeed, "publish">;
};

/** Secrets: reads (list, get, by id), writes (create, update, delete) and batch writes over one codec and its plaintext cache. */
export const secretServiceFactory = (deps: Deps) => {
  const codec = secretCodecFactory({ keys: deps.keys });
  return { ...secretReaderFactory({ ...deps, codec }), ...secretWriterFactory({ ...deps, codec }), ...secretBatchFactory({ ...deps, codec }) };
};
export type SecretService = ReturnType<typeof secretServiceFactory>;
