import type { DynamicSecretLeaseTable, DynamicSecretTable } from "../../store/schema.js";

/** What replaces a secret input (admin password) for readers below project admin. */
export const MASK = "******";

export const maskInputs = (inputs: Record<string, unknown>, secretFields: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, secretFields.includes(k) && v !== undefined && v !== "" ? MASK : v]));

/** Infisical's "sanitized" dynamic secret (api.md 5.1); `inputs` only where the route returns them. */
export const dynamicSecretView = (row: DynamicSecretTable, inputs?: Record<string, unknown>) => ({
  id: row.id, name: row.name, version: row.version, type: row.type, defaultTTL: row.default_ttl, maxTTL: row.max_ttl,
  folderId: row.folder_id, status: row.status, statusDetails: row.status_details, usernameTemplate: row.username_template,
  metadata: JSON.parse(row.metadata) as { key: string; value: string }[], createdAt: row.created_at, updatedAt: row.updated_at,
  ...(inputs ? { inputs } : {}),
});
export type DynamicSecretView = ReturnType<typeof dynamicSecretView>;

/** A lease never carries its credentials: `data` is returned once, by lease creation. */
export const leaseView = (row: DynamicSecretLeaseTable) => ({
  id: row.id, version: row.version, externalEntityId: row.external_entity_id,
  // The SDK's type says `expiresAt`; Infisical, the CLI and the Go SDK read `expireAt` (api.md 8 item 9).
  expireAt: row.expire_at, expiresAt: row.expire_at,
  status: row.status, statusDetails: row.status_details, dynamicSecretId: row.dynamic_secret_id,
  config: row.config === null ? null : (JSON.parse(row.config) as unknown), createdAt: row.created_at, updatedAt: row.updated_at,
});
export type LeaseView = ReturnType<typeof leaseView>;
