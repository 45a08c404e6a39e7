import { z } from "zod";
import { qbool } from "../schemas.js";
import { isValidSecretName, SECRET_NAME_MESSAGE } from "../../core/secrets/value.js";
import type { ProjectRef } from "../../core/secrets/scope.js";
import { BATCH_LIMIT } from "../../core/secrets/secret-batch.js";

/**
 * Request schemas shared by the secrets, folders and imports routes. Unknown fields are stripped (the SDK
 * sends `secretName` in the query of a GET, the CLI `includePersonalOverrides`); nothing is coerced.
 */
const qb = qbool.optional();
const id = z.string().min(1);

/** Every spelling of "which project" that Infisical's routes and clients use. */
export const ProjectSelector = {
  workspaceId: id.optional(), projectId: id.optional(), workspaceSlug: id.optional(), projectSlug: id.optional(),
};
export const projectRef = (s: { workspaceId?: string; projectId?: string; workspaceSlug?: string; projectSlug?: string }): ProjectRef =>
  ({ projectId: s.projectId ?? s.workspaceId, projectSlug: s.projectSlug ?? s.workspaceSlug });

export const secretName = z.string().trim().min(1).refine(isValidSecretName, { message: SECRET_NAME_MESSAGE });
export const SecretNameParams = z.object({ secretName });
export const SecretIdParams = z.object({ secretId: id });
const secretType = z.enum(["shared", "personal"]).optional();

const ReadFlags = {
  environment: id.optional(),
  secretPath: z.string().optional(),
  viewSecretValue: qb,
  expandSecretReferences: qb,
  // The SDK and the newer routes spell it camelCase, older routes snake_case (api.md 8, items 3 and 4).
  include_imports: qb,
  includeImports: qb,
};
export const ListQuery = z.object({ ...ProjectSelector, ...ReadFlags, recursive: qb, tagSlugs: z.string().optional(), metadataFilter: z.string().optional() });
export const GetQuery = z.object({
  ...ProjectSelector, ...ReadFlags, type: secretType,
  version: z.string().regex(/^\d+$/, { message: "expected a version number" }).transform(Number).optional(),
});

const MetadataItem = z.object({ key: z.string().min(1), value: z.string(), isEncrypted: z.boolean().optional() });
const WriteScope = { ...ProjectSelector, environment: id, secretPath: z.string().optional(), type: secretType };
const Fields = {
  secretComment: z.string().trim().optional(),
  skipMultilineEncoding: z.boolean().nullable().optional(),
  tagIds: z.array(z.string()).optional(),
  secretReminderRepeatDays: z.number().int().min(0).nullable().optional(),
  secretReminderNote: z.string().max(1024).nullable().optional(),
  secretMetadata: z.array(MetadataItem).optional(),
  metadata: z.record(z.string(), z.unknown()).nullable().optional(),
};
export const CreateBody = z.object({ ...WriteScope, ...Fields, secretValue: z.string() });
export const UpdateBody = z.object({
  ...WriteScope, ...Fields, secretValue: z.string().optional(), newSecretName: secretName.optional(),
  secretReminderRecipients: z.array(z.string()).optional(),
});
export const DeleteBody = z.object(WriteScope);

/** Read flags with the defaults of a route family: v3 defaults everything off, v4 expands and imports (api.md 4.3). */
export const readFlags = (
  q: { viewSecretValue?: boolean; expandSecretReferences?: boolean; includeImports?: boolean; include_imports?: boolean },
  defaults: { expand: boolean; imports: boolean },
) => ({
  viewSecretValue: q.viewSecretValue ?? true,
  expandSecretReferences: q.expandSecretReferences ?? defaults.expand,
  includeImports: q.includeImports ?? q.include_imports ?? defaults.imports,
});

// Batch routes (POST/PATCH/DELETE /api/v3/secrets/batch/raw, /api/v4/secrets/batch) ------------------

/** A batch item's name: the message quotes it, so a client with 500 items learns which one is wrong. */
const batchName = z.string().trim().min(1).refine(isValidSecretName, { error: (i) => `${SECRET_NAME_MESSAGE}: ${JSON.stringify(i.input)}` });
const batchItems = <T extends z.ZodType>(item: T) =>
  z.array(item).min(1, { error: "at least one secret is required" }).max(BATCH_LIMIT, { error: `at most ${BATCH_LIMIT} secrets per request` });
const BatchScope = { ...ProjectSelector, environment: id, secretPath: z.string().optional() };

export const BatchCreateBody = z.object({
  ...BatchScope,
  secrets: batchItems(z.object({ ...Fields, secretKey: batchName, secretValue: z.string() })),
});
export const BatchUpdateBody = z.object({
  ...BatchScope,
  mode: z.enum(["failOnNotFound", "upsert"]).optional(),
  secrets: batchItems(z.object({
    ...Fields, secretKey: batchName, secretPath: z.string().optional(), secretValue: z.string().optional(), newSecretName: batchName.optional(),
  })),
});
export const BatchDeleteBody = z.object({
  ...BatchScope,
  secrets: batchItems(z.object({ secretKey: z.string().trim().min(1), type: secretType })),
});
