import type { DynamicSecretProvider } from "../provider.js";
import { createRedisProvider, type RedisInputs } from "./redis.js";
import { createSqlDatabaseProvider, type SqlDatabaseInputs } from "./sql-database.js";

/** Provider `type` (api.md 5.2) → its inputs. Add a member here and the registry below fails to build until it has a provider. */
export interface ProviderInputs {
  "sql-database": SqlDatabaseInputs;
  redis: RedisInputs;
}
export type ProviderType = keyof ProviderInputs;
export type ProviderRegistry = { [K in ProviderType]: DynamicSecretProvider<ProviderInputs[K]> };

export interface ProviderDeps { connectTimeoutMs: number }

export const createProviders = (deps: ProviderDeps): ProviderRegistry => ({
  "sql-database": createSqlDatabaseProvider(deps),
  redis: createRedisProvider(deps),
});

export const isProviderType = (registry: ProviderRegistry, type: string): type is ProviderType => Object.hasOwn(registry, type);
