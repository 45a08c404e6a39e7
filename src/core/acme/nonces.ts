import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { isoAt } from "../time.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import { problem } from "./problem.js";

/** Long enough for a client that pauses between steps, short enough that the table stays small. */
const NONCE_TTL_MS = 30 * 60_000;
const SWEEP_EVERY = 200;

type Deps = { store: Pick<EnrollmentStore, "insertNonce" | "consumeNonce" | "deleteExpiredNonces">; clock: Clock };

/** Replay-Nonce values (RFC 8555 6.5): stored, each accepted once, within its lifetime. */
export const nonceServiceFactory = ({ store, clock }: Deps) => {
  let issued = 0;
  const issue = async (): Promise<string> => {
    const value = randomBytes(16).toString("base64url");
    await store.insertNonce(value, isoAt(clock.now() + NONCE_TTL_MS));
    if (++issued % SWEEP_EVERY === 0) await store.deleteExpiredNonces(isoAt(clock.now()));
    return value;
  };
  /** badNonce when unknown, used or expired: clients retry with the nonce of the error response. */
  const consume = async (value: string): Promise<void> => {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(value) || !(await store.consumeNonce(value, isoAt(clock.now()))))
      throw problem("badNonce", "The nonce is unknown, expired or already used; retry with the Replay-Nonce of this response");
  };
  return { issue, consume };
};
export type NonceService = ReturnType<typeof nonceServiceFactory>;
