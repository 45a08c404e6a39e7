import type { KmsKeyTable } from "../../store/schema.js";

/** The key object of api.md 6.1: metadata only, never material. */
export const kmsKeyView = (k: KmsKeyTable) => ({
  id: k.id, name: k.name, description: k.description, isDisabled: k.is_disabled === 1, orgId: k.org_id, projectId: k.project_id,
  keyUsage: k.key_usage, encryptionAlgorithm: k.algorithm, version: k.version, createdAt: k.created_at, updatedAt: k.updated_at,
});
export type KmsKeyView = ReturnType<typeof kmsKeyView>;
