import { Redis } from "ioredis";
import { z } from "zod";
import { generatePassword } from "../credentials.js";
import { ProviderError, reasonOf, scrub, TargetUnreachableError, type DynamicSecretProvider, type IssuedCredentials, type ProviderLease } from "../provider.js";
import { renderStatements, templateProblem } from "../statements.js";

/** Infisical's dashboard defaults: a user with every key, channel and command, removed on revoke. */
export const DEFAULT_REDIS_STATEMENTS = {
  creationStatement: "ACL SETUSER {{username}} on >{{password}} ~* &* +@all",
  revocationStatement: "ACL DELUSER {{username}}",
};

// Infisical's Redis passwords: 64 characters, none of which needs quoting in a Redis command.
const REDIS_PASSWORD = { length: 64, required: { lowercase: 1, uppercase: 1, digits: 1, symbols: 1 }, allowedSymbols: "-_.~!*" };

const CREATE_VARS = ["username", "password", "expiration"] as const;
const RENEW_VARS = ["username", "password", "expiration"] as const;
const REVOKE_VARS = ["username"] as const;

const statement = z.string().trim().optional().transform((s) => (s === "" ? undefined : s));

export const RedisInputs = z.object({
  host: z.string().trim().toLowerCase().min(1),
  port: z.number().int().min(1).max(65535),
  username: z.string().trim().min(1),
  password: z.string().trim().optional(),
  creationStatement: statement,
  revocationStatement: statement,
  renewStatement: z.string().trim().optional(),
  ca: z.string().optional(),
  sslEnabled: z.boolean().optional(),
  sslRejectUnauthorized: z.boolean().optional(),
}).superRefine((i, ctx) => {
  for (const [field, vars] of [["creationStatement", CREATE_VARS], ["revocationStatement", REVOKE_VARS], ["renewStatement", RENEW_VARS]] as const) {
    const problem = i[field] ? templateProblem(i[field]!, vars) : undefined;
    if (problem) ctx.addIssue({ code: "custom", path: [field], message: problem });
  }
}).transform((i) => ({
  ...i,
  creationStatement: i.creationStatement ?? DEFAULT_REDIS_STATEMENTS.creationStatement,
  revocationStatement: i.revocationStatement ?? DEFAULT_REDIS_STATEMENTS.revocationStatement,
}));
export type RedisInputs = z.output<typeof RedisInputs>;

/** A Redis statement is a command line: words separated by whitespace (as Infisical splits them). */
const words = (command: string) => command.split(/\s+/).filter(Boolean);

export const createRedisProvider = ({ connectTimeoutMs }: { connectTimeoutMs: number }): DynamicSecretProvider<RedisInputs> => {
  const where = (i: RedisInputs) => `redis at ${i.host}:${i.port}`;

  const couldNotConnect = (i: RedisInputs, cause: unknown) =>
    new TargetUnreachableError(`Could not connect to ${where(i)} as '${i.username}': ${scrub(reasonOf(cause, connectTimeoutMs), [i.password])}`);

  /**
   * Connects and authenticates. A refused AUTH can surface after connect() resolved (ioredis marks the client
   * ready while its AUTH answer is still on the way, then closes it), so a PING settles it; when that fails, the
   * error the socket reported says why (WRONGPASS rather than "Stream isn't writeable").
   */
  const open = async (i: RedisInputs): Promise<Redis> => {
    const client = new Redis({
      host: i.host, port: i.port, username: i.username, password: i.password || undefined,
      // The handshake (AUTH, then our PING) gets the connect timeout too: a target that accepts the connection
      // but never answers must fail within it, not after the longer command timeout set below.
      lazyConnect: true, connectTimeout: connectTimeoutMs, commandTimeout: connectTimeoutMs,
      // One attempt, no offline queue: an unreachable server must fail this request, not be retried forever.
      maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false,
      ...(i.ca || i.sslEnabled ? { tls: { ...(i.ca ? { ca: i.ca } : {}), rejectUnauthorized: i.sslRejectUnauthorized ?? true, servername: i.host } } : {}),
    });
    // connect() only says "Connection is closed"; the socket error said why.
    let socketError: unknown;
    client.on("error", (e) => { socketError ??= e; });
    try {
      await client.connect();
      // AUTH is answered before any later command, so a PING settles whether the credentials were accepted.
      await client.ping();
      client.options.commandTimeout = 3 * connectTimeoutMs;
      return client;
    } catch (e) {
      client.disconnect();
      throw couldNotConnect(i, socketError ?? e);
    }
  };

  /**
   * Runs the commands in MULTI/EXEC, as Infisical does. Redis queues them atomically but does not roll back:
   * a command that fails at run time leaves the others applied.
   */
  const execute = async (i: RedisInputs, what: string, commands: string[], secrets: string[]) => {
    const client = await open(i);
    try {
      const multi = client.multi();
      for (const c of commands) {
        const [name, ...args] = words(c);
        multi.call(name!, ...args);
      }
      const results = await multi.exec();
      const failed = results?.find(([err]) => err);
      if (!results) throw new Error("the transaction was aborted");
      if (failed) throw failed[0];
    } catch (e) {
      if (e instanceof ProviderError) throw e;
      throw new ProviderError(`Failed to ${what} on ${where(i)}: ${scrub(reasonOf(e, connectTimeoutMs), [i.password, ...secrets])}`);
    } finally {
      client.disconnect();
    }
  };

  const revoke = async (i: RedisInputs, lease: ProviderLease) =>
    execute(i, `revoke lease user '${lease.entityId}'`, renderStatements(i.revocationStatement, { username: lease.entityId }, REVOKE_VARS), []);

  return {
    inputs: RedisInputs,
    secretFields: ["password"],
    validateConnection: async (i) => {
      (await open(i)).disconnect();
    },
    create: async (i, { username, expireAt }): Promise<IssuedCredentials> => {
      const password = generatePassword(REDIS_PASSWORD);
      const vars = { username, password, expiration: expireAt.toISOString() };
      try {
        await execute(i, `create lease user '${username}'`, renderStatements(i.creationStatement, vars, CREATE_VARS), [password]);
      } catch (e) {
        // EXEC does not roll back: a command that failed after an ACL SETUSER ran leaves a live user no lease
        // knows of, so the revocation statement removes it (DELUSER of a user that was never made is a no-op).
        if (!(e instanceof TargetUnreachableError)) await revoke(i, { entityId: username, data: {}, expireAt }).catch(() => {});
        throw e;
      }
      return { entityId: username, data: { DB_USERNAME: username, DB_PASSWORD: password } };
    },
    renew: async (i, lease) => {
      if (!i.renewStatement) return;
      const vars = { username: lease.entityId, password: lease.data.DB_PASSWORD, expiration: lease.expireAt.toISOString() };
      await execute(i, `renew lease user '${lease.entityId}'`, renderStatements(i.renewStatement, vars, RENEW_VARS), [lease.data.DB_PASSWORD ?? ""]);
    },
    revoke,
  };
};
