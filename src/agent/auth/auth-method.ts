import type { KmsClient } from "../../client/kms-client.js";
import type { TokenResponse } from "../../client/types.js";

/**
 * One way of proving who the agent is (Vault agent's AuthMethod, reduced to what we need). The token
 * lifecycle around it (renewal, re-login, backoff) lives once, in agent/token.ts.
 */
export interface AuthMethod {
  readonly type: string;
  login(client: Pick<KmsClient, "universalAuthLogin">, signal?: AbortSignal): Promise<TokenResponse>;
}
