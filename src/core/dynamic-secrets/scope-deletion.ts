import type { Actor } from "../actor.js";
import type { DynamicSecretScope } from "../../store/dynamic-secrets.js";
import type { DynamicSecretTable } from "../../store/schema.js";

/** Deleting a project, an environment or a folder subtree, which takes the dynamic secrets inside along. */
export interface ScopeDeletion {
  /** The project it belongs to: deleting dynamic secrets needs its `admin` role. */
  projectId: string;
  scope: DynamicSecretScope;
  /** How messages name it, e.g. "Folder '/app' in environment 'dev'". */
  what: string;
  /**
   * Deletes it in one transaction whose cascade removes the dynamic-secret rows too, so a failure never
   * leaves them half-deleted, and answers the dynamic secrets that went. False, deleting nothing, when a
   * lease is recorded in it.
   */
  drop: () => Promise<readonly DynamicSecretTable[] | false>;
}

/**
 * Revokes every lease of the dynamic secrets in the scope (as deleting each of them does), then drops the
 * scope; 400 and nothing dropped when a lease cannot be revoked. The project and folder services get this
 * one function injected rather than the dynamic-secret module, which itself depends on the project service.
 */
export type DeleteDynamicSecretsIn = (actor: Actor, deletion: ScopeDeletion) => Promise<void>;
