import { z } from "zod";
import { DEFAULT_ADDRESS, kmsAddressSchema } from "../../client/address.js";
import { durationSchema } from "../../config/duration.js";
import { AuthConfig } from "../auth/index.js";
import { RetryStrategyConfig } from "../retry.js";
import { SinkConfig } from "../sinks/index.js";
import { permissionSchema } from "../sinks/file.js";
import { CacheConfig } from "../cache/config.js";

/**
 * The secrets agent's configuration: seed 003's YAML key for key, with its defaults, plus ours:
 * `permission` on sinks and templates, `kms.change-stream` / `templates[].config.change-stream` (push).
 * Objects are strict: a misspelt key is an error, never a silently ignored setting.
 */

export const DEFAULT_POLLING_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_TEMPLATE_MODE = 0o600;
/** Upstream waits forever for a command without a timeout; a stuck reload script must not stall renders. */
export const DEFAULT_EXECUTE_TIMEOUT_MS = 30_000;

const nonEmpty = z.string().trim().min(1, "must not be empty");

export const SecretsKmsSection = z.strictObject({
  address: kmsAddressSchema.default(DEFAULT_ADDRESS),
  "exit-after-auth": z.boolean().default(false),
  "revoke-credentials-on-shutdown": z.boolean().default(false),
  "retry-strategy": RetryStrategyConfig.optional(),
  // Ours: subscribe to the server's change stream (GET /api/v1/secrets/events) for immediate re-renders.
  "change-stream": z.boolean().default(true),
});
export type SecretsKmsSection = z.output<typeof SecretsKmsSection>;

// Seconds, as the seed writes it (`timeout: 30`); a duration string ("45s") is accepted too.
// Each branch converts on its own: a duration string already parses to milliseconds.
const timeoutSchema = z.union([z.number().positive().transform((seconds) => seconds * 1000), durationSchema], {
  error: 'expected seconds (e.g. 30) or a duration string such as "45s"',
});

export const TemplateEntry = z.strictObject({
  "source-path": nonEmpty.optional(),
  "template-content": z.string().optional(),
  "base64-template-content": nonEmpty.optional(),
  "destination-path": nonEmpty,
  permission: permissionSchema.default(DEFAULT_TEMPLATE_MODE),
  config: z
    .strictObject({
      "polling-interval": durationSchema.default(DEFAULT_POLLING_INTERVAL_MS),
      execute: z.strictObject({ command: nonEmpty.optional(), timeout: timeoutSchema.optional() }).optional(),
      "change-stream": z.boolean().optional(),
    })
    .default({ "polling-interval": DEFAULT_POLLING_INTERVAL_MS }),
});
export type TemplateEntry = z.output<typeof TemplateEntry>;

export const SecretsAgentConfig = z.strictObject({
  kms: SecretsKmsSection.default({ address: DEFAULT_ADDRESS, "exit-after-auth": false, "revoke-credentials-on-shutdown": false, "change-stream": true }),
  auth: AuthConfig,
  sinks: z.array(SinkConfig).default([]),
  templates: z.array(TemplateEntry).default([]),
  cache: CacheConfig.optional(),
  // The certificate agent's keys: accepted by the schema so the check can say where they belong.
  certificates: z.unknown().optional(),
  version: z.unknown().optional(),
});
export type SecretsAgentConfig = z.output<typeof SecretsAgentConfig>;
