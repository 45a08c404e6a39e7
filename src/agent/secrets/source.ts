import type { KmsClient } from "../../client/kms-client.js";
import type { ListSecretsResponse, Secret } from "../../client/types.js";
import type { Clock } from "../../core/clock.js";
import type { Logger } from "../log.js";
import { withRetry } from "../retry.js";
import type { RetryPolicy } from "../retry.js";
import type { TokenManager } from "../token.js";

/**
 * Where template functions get secrets: the v4 routes the Go agent uses (api.md 4.3), each call with a
 * valid token (re-login once on 401) and the configured retry-strategy (upstream retries only logins,
 * DESIGN.md). Identical requests in flight at the same moment share one HTTP call: when a change event
 * makes several templates re-render at once, the server sees each folder read once.
 */

export interface ListQuery {
  projectId: string;
  environment: string;
  secretPath: string;
  recursive: boolean;
  expandSecretReferences: boolean;
}
export interface GetQuery {
  projectId: string;
  environment: string;
  secretPath: string;
  secretName: string;
}

export interface SecretSource {
  /**
   * Called when the server reports a change: requests started before it may carry old values, so later
   * calls must not join them.
   */
  invalidate(): void;
  list(q: ListQuery, signal?: AbortSignal): Promise<ListSecretsResponse>;
  get(q: GetQuery, signal?: AbortSignal): Promise<Secret>;
  projectIdBySlug(slug: string, signal?: AbortSignal): Promise<string>;
}

export interface SecretSourceDeps {
  client: Pick<KmsClient, "listSecretsV4" | "getSecretByNameV4" | "getProjectBySlug">;
  tokens: Pick<TokenManager, "withToken">;
  retry: RetryPolicy;
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

export const createSecretSource = (deps: SecretSourceDeps): SecretSource => {
  const inflight = new Map<string, Promise<unknown>>();
  let generation = 0;

  const call = <T>(what: string, k: string, fn: (token: string, signal?: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const key = `${generation}\0${k}`;
    const running = inflight.get(key);
    if (running) return running as Promise<T>;
    const p = withRetry(() => deps.tokens.withToken((token) => fn(token, signal), signal), deps.retry, {
      clock: deps.clock,
      signal,
      random: deps.random,
      onRetry: (i) => deps.logger.warn(`${what} failed, retrying`, { retry: i.retry, delayMs: Math.round(i.delayMs), error: (i.error as Error)?.message }),
    }).finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };

  return {
    invalidate: () => {
      generation++;
    },
    list: (q, signal) =>
      call(
        "secret list",
        `list\0${q.projectId}\0${q.environment}\0${q.secretPath}\0${q.recursive}\0${q.expandSecretReferences}`,
        async (token, s) =>
          (
            await deps.client.listSecretsV4(
              { ...q, includeImports: true, includePersonalOverrides: false, viewSecretValue: true },
              { token, signal: s },
            )
          ).body,
        signal,
      ),
    get: (q, signal) =>
      call(
        "secret read",
        `get\0${q.projectId}\0${q.environment}\0${q.secretPath}\0${q.secretName}`,
        async (token, s) =>
          (await deps.client.getSecretByNameV4({ ...q, type: "shared", expandSecretReferences: true, includeImports: true }, { token, signal: s })).body.secret,
        signal,
      ),
    projectIdBySlug: (slug, signal) => call("project lookup", `project\0${slug}`, async (token, s) => (await deps.client.getProjectBySlug(slug, { token, signal: s })).id, signal),
  };
};
