import type { z } from "zod";
import { BadRequestError } from "../errors.js";

/** What a provider hands out for one lease: the user it created and the credentials the client receives. */
export interface IssuedCredentials {
  /** The created user's name; stored as the lease's `externalEntityId` and used to revoke it. */
  entityId: string;
  /** Returned once to the client as the lease's `data` (`DB_USERNAME`, `DB_PASSWORD`), kept encrypted. */
  data: Record<string, string>;
}

export interface IssueRequest {
  username: string;
  expireAt: Date;
}

/** A lease as a provider sees it when renewing or revoking. */
export interface ProviderLease {
  entityId: string;
  data: Record<string, string>;
  expireAt: Date;
}

/**
 * One kind of target system (STYLE.md rule 6). A provider knows how to talk to its system and nothing of
 * leases, TTLs, storage or permissions: the lease service owns those. Every method gets the decrypted,
 * already-validated inputs; a failure of the target system is a ProviderError whose message names the
 * host:port and never a password.
 */
export interface DynamicSecretProvider<I> {
  /** Validates and normalises `inputs` (defaults filled in); issues name the field. */
  readonly inputs: z.ZodType<I>;
  /** Input fields holding secrets: masked for readers below project admin. */
  readonly secretFields: readonly string[];
  /** Connects with the admin credentials; called before a dynamic secret is stored or its inputs change. */
  validateConnection(inputs: I): Promise<void>;
  create(inputs: I, req: IssueRequest): Promise<IssuedCredentials>;
  /** Moves the user's expiry to `lease.expireAt`; a no-op when the inputs have no renew statement. */
  renew(inputs: I, lease: ProviderLease): Promise<void>;
  revoke(inputs: I, lease: ProviderLease): Promise<void>;
}

/** The target system refused or could not be reached: a 400 for the caller, as in Infisical. */
export class ProviderError extends BadRequestError {}
/** No session with the target (unreachable, or the admin login refused): none of the statements ran. */
export class TargetUnreachableError extends ProviderError {}

/** Removes secrets a driver might echo back (it sometimes quotes the statement it ran). */
export const scrub = (message: string, secrets: (string | undefined)[]): string =>
  secrets.reduce<string>((m, s) => (s && s.length >= 4 ? m.split(s).join("***") : m), message);

/** A driver error as a short human reason: the code for network failures, the server's text otherwise. */
export const reasonOf = (e: unknown, timeoutMs: number): string => {
  const err = e as { code?: string; message?: string; errors?: { message?: string }[] };
  switch (err?.code) {
    case "ECONNREFUSED": return "connection refused";
    case "ENOTFOUND": case "EAI_AGAIN": return "host not found";
    case "ETIMEDOUT": case "ETIMEOUT": return `no answer within ${timeoutMs / 1000}s`;
    case "EHOSTUNREACH": case "ENETUNREACH": return "host unreachable";
    case "ECONNRESET": return "connection reset by the server";
  }
  // AggregateError (several addresses tried) carries the reasons inside.
  const msg = err?.message || err?.errors?.map((x) => x.message).join("; ") || String(e);
  return /timeout|timed out/i.test(msg) ? `no answer within ${timeoutMs / 1000}s (${msg})` : msg;
};
