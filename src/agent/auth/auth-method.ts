import type { KmsClient } from "../../client/kms-client.js";
import type { TokenResponse } from "../../client/types.js";

/** The workload-identity logins (issue 7). Optional in the type, so a fake client that only knows universal auth still fits. */
export type WorkloadLoginCall = "kubernetesAuthLogin" | "awsIamAuthLogin" | "gcpAuthLogin" | "azureAuthLogin" | "tlsCertAuthLogin";
export type LoginClient = Pick<KmsClient, "universalAuthLogin"> & Partial<Pick<KmsClient, WorkloadLoginCall>>;

/**
 * One way of proving who the agent is (Vault agent's AuthMethod, reduced to what we need). The token
 * lifecycle around it (renewal, re-login, backoff) lives once, in agent/token.ts.
 */
export interface AuthMethod {
  readonly type: string;
  login(client: LoginClient, signal?: AbortSignal): Promise<TokenResponse>;
}
