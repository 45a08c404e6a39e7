import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuthMethod, LoginClient, WorkloadLoginCall } from "../../../src/agent/auth/auth-method.js";
import type { TokenResponse } from "../../../src/client/types.js";

/**
 * What every auth method owes the token manager (STYLE rule 16): one login call of its kind, carrying the
 * identity, returning the server's answer untouched, letting the server's refusal through, and a clear error
 * when the client cannot make its call.
 */

const ANSWER: TokenResponse = { accessToken: "kmsat.x.y", expiresIn: 600, accessTokenMaxTTL: 3600, tokenType: "Bearer" };

export const recordingClient = (fail?: Error) => {
  const calls: { name: string; args: unknown[] }[] = [];
  const record = (name: string) => async (...args: unknown[]) => {
    calls.push({ name, args });
    if (fail) throw fail;
    return ANSWER;
  };
  const client: LoginClient = {
    universalAuthLogin: record("universalAuthLogin"), kubernetesAuthLogin: record("kubernetesAuthLogin"), awsIamAuthLogin: record("awsIamAuthLogin"),
    gcpAuthLogin: record("gcpAuthLogin"), azureAuthLogin: record("azureAuthLogin"), tlsCertAuthLogin: record("tlsCertAuthLogin"),
  } as LoginClient;
  return { client, calls };
};

export const authMethodContract = (name: string, o: { make: () => AuthMethod | Promise<AuthMethod>; call: WorkloadLoginCall; identityId: string }) =>
  describe(`${name} auth method contract`, () => {
    test("one login call of its kind, carrying the identity id; the answer is returned as is", async () => {
      const { client, calls } = recordingClient();
      const r = await (await o.make()).login(client);
      assert.deepEqual(r, ANSWER);
      assert.deepEqual(calls.map((c) => c.name), [o.call]);
      assert.equal((calls[0]!.args[0] as { identityId: string }).identityId, o.identityId);
    });
    test("the server's refusal reaches the caller unchanged", async () => {
      const refusal = Object.assign(new Error("401 login refused: namespace not allowed"), { status: 401 });
      const { client } = recordingClient(refusal);
      await assert.rejects((await o.make()).login(client), (e) => e === refusal);
    });
    test("a client without the method's call is a clear error, not a crash", async () => {
      const only: LoginClient = { universalAuthLogin: async () => ANSWER };
      await assert.rejects((await o.make()).login(only), new RegExp(`this KMS client has no ${o.call}`));
    });
  });
