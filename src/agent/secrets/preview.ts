import { createKmsClient } from "../../client/kms-client.js";
import { systemClock } from "../../core/clock.js";
import type { FuncMap } from "../../template/funcs.js";
import { silentLogger } from "../log.js";
import { DEFAULT_RETRY_POLICY } from "../retry.js";
import { dynamicSecretFunctions } from "./dynamic.js";
import { newRenderContext, secretFunctions } from "./functions.js";
import type { RenderContext } from "./functions.js";
import { redactValues } from "./redact.js";
import { createSecretSource } from "./source.js";

/**
 * The agent's secret functions for `kms template render --address URL` (token from KMS_TOKEN): the same
 * requests the agent makes, so a preview shows what the agent would write. No login, no renewal: the
 * token is used as given.
 */
export const livePreviewFuncs = (address: string, token: string): { funcs: FuncMap; redact(message: string): string; close(): Promise<void> } => {
  const client = createKmsClient({ address, userAgent: "kms-template-preview" });
  const source = createSecretSource({
    client,
    tokens: { withToken: (fn) => fn(token) },
    retry: DEFAULT_RETRY_POLICY,
    clock: systemClock,
    logger: silentLogger,
  });
  const ctx = newRenderContext(source);
  // An error message printed by the preview must not show the values it fetched, any more than the agent's log.
  return { funcs: agentFunctions(() => ctx), redact: (message) => redactValues(message, ctx.fetched), close: () => client.close() };
};

/**
 * Without --address: every agent function exists, so a template parses and renders as far as the agent
 * would take it offline, and a call says what it needs instead of `function "dynamic_secret" not defined`.
 */
export const offlinePreviewFuncs = (): FuncMap =>
  agentFunctions(() => {
    throw new Error("reads from the KMS: pass --address URL and set KMS_TOKEN to preview with live secrets");
  });

// dynamic_secret in a live preview says that a preview makes no leases (its context has none).
const agentFunctions = (current: () => RenderContext): FuncMap => ({ ...secretFunctions(current), ...dynamicSecretFunctions(current) });
