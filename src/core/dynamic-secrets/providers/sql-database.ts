import mysql from "mysql2/promise";
import pg from "pg";
import { z } from "zod";
import { DEFAULT_PASSWORD_REQUIREMENTS, generatePassword, PasswordRequirementsSchema } from "../credentials.js";
import { ProviderError, reasonOf, scrub, TargetUnreachableError, type DynamicSecretProvider, type IssuedCredentials, type ProviderLease } from "../provider.js";
import { renderStatements, templateProblem } from "../statements.js";

const CLIENTS = ["postgres", "mysql2", "oracledb", "mssql", "sap-ase", "vertica"] as const;
const SUPPORTED = ["postgres", "mysql2"] as const;
type SupportedClient = (typeof SUPPORTED)[number];

/**
 * Statements used when the caller leaves them out: Infisical's (its dashboard fills them in). For MySQL we
 * quote with backticks and single quotes where Infisical writes `"{{database}}".*`, which MySQL and
 * MariaDB reject unless ANSI_QUOTES is on.
 */
export const DEFAULT_SQL_STATEMENTS: Record<SupportedClient, { creationStatement: string; revocationStatement: string; renewStatement?: string }> = {
  postgres: {
    creationStatement: `CREATE USER "{{username}}" WITH ENCRYPTED PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';\nGRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO "{{username}}";`,
    revocationStatement: `REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{username}}";\nDROP ROLE "{{username}}";`,
    renewStatement: `ALTER ROLE "{{username}}" VALID UNTIL '{{expiration}}';`,
  },
  mysql2: {
    creationStatement: "CREATE USER '{{username}}'@'%' IDENTIFIED BY '{{password}}';\nGRANT ALL ON `{{database}}`.* TO '{{username}}'@'%';",
    revocationStatement: "REVOKE ALL PRIVILEGES ON `{{database}}`.* FROM '{{username}}'@'%';\nDROP USER '{{username}}'@'%';",
  },
};

const CREATE_VARS = ["username", "password", "expiration", "database"] as const;
const RENEW_VARS = ["username", "password", "expiration", "database"] as const;
const REVOKE_VARS = ["username", "database"] as const;

// "" counts as absent for the statements a lease cannot work without; an empty renew statement means "none".
const statement = z.string().trim().optional().transform((s) => (s === "" ? undefined : s));

export const SqlDatabaseInputs = z.object({
  client: z.enum(CLIENTS),
  host: z.string().trim().toLowerCase().min(1),
  port: z.number().int().min(1).max(65535),
  database: z.string().trim().min(1),
  username: z.string().trim().min(1),
  password: z.string().trim(),
  creationStatement: statement,
  revocationStatement: statement,
  renewStatement: z.string().trim().optional(),
  ca: z.string().optional(),
  sslEnabled: z.boolean().optional(),
  sslRejectUnauthorized: z.boolean().optional(),
  passwordRequirements: PasswordRequirementsSchema.optional(),
  gatewayId: z.string().nullable().optional(),
}).superRefine((i, ctx) => {
  if (!(SUPPORTED as readonly string[]).includes(i.client))
    ctx.addIssue({ code: "custom", path: ["client"], message: `client "${i.client}" is not supported by this server (supported: ${SUPPORTED.join(", ")})` });
  for (const [field, vars] of [["creationStatement", CREATE_VARS], ["revocationStatement", REVOKE_VARS], ["renewStatement", RENEW_VARS]] as const) {
    const problem = i[field] ? templateProblem(i[field]!, vars) : undefined;
    if (problem) ctx.addIssue({ code: "custom", path: [field], message: problem });
  }
}).transform((i) => {
  // Unsupported clients were refused above; the fallback only keeps the types honest.
  const defaults = DEFAULT_SQL_STATEMENTS[i.client as SupportedClient] ?? DEFAULT_SQL_STATEMENTS.postgres;
  return {
    ...i,
    creationStatement: i.creationStatement ?? defaults.creationStatement,
    revocationStatement: i.revocationStatement ?? defaults.revocationStatement,
    ...(i.renewStatement === undefined && defaults.renewStatement ? { renewStatement: defaults.renewStatement } : {}),
  };
});
export type SqlDatabaseInputs = z.output<typeof SqlDatabaseInputs>;

interface SqlSession {
  /** Runs the statements in one transaction; MySQL commits each DDL statement on its own regardless. */
  run(statements: string[]): Promise<void>;
  close(): Promise<void>;
}

const tlsOf = (i: SqlDatabaseInputs) =>
  i.sslEnabled || i.ca ? { ...(i.ca ? { ca: i.ca } : {}), rejectUnauthorized: i.sslRejectUnauthorized ?? true } : undefined;

/**
 * Every statement block this server runs on a PostgreSQL database first takes this transaction-level advisory
 * lock, so blocks run one at a time per database (also those of other servers). Two blocks that GRANT or
 * REVOKE on ALL TABLES IN SCHEMA (the default statements do) update the same catalog rows, and PostgreSQL
 * fails one of two concurrent ones with "tuple concurrently updated": leases asked for at the same time failed.
 */
const PG_STATEMENT_LOCK = "SELECT pg_advisory_xact_lock(7163953611289461)";

const openPostgres = async (i: SqlDatabaseInputs, timeoutMs: number): Promise<SqlSession> => {
  const client = new pg.Client({
    host: i.host, port: i.port, database: i.database, user: i.username, password: i.password,
    ssl: tlsOf(i), connectionTimeoutMillis: timeoutMs, query_timeout: 3 * timeoutMs,
  });
  // A dropped connection emits "error" on the client; without a listener it would crash the server.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw e;
  }
  return {
    run: async (statements) => {
      await client.query("BEGIN");
      try {
        await client.query(PG_STATEMENT_LOCK);
        for (const s of statements) await client.query(s);
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK").catch(() => {});
        throw e;
      }
    },
    close: () => client.end().catch(() => {}),
  };
};

const openMysql = async (i: SqlDatabaseInputs, timeoutMs: number): Promise<SqlSession> => {
  const ssl = tlsOf(i);
  const conn = await mysql.createConnection({
    host: i.host, port: i.port, database: i.database, user: i.username, password: i.password,
    connectTimeout: timeoutMs, multipleStatements: false, ...(ssl ? { ssl } : {}),
  });
  conn.on("error", () => {});
  return {
    run: async (statements) => {
      await conn.beginTransaction();
      try {
        for (const s of statements) await conn.query({ sql: s, timeout: 3 * timeoutMs });
        await conn.commit();
      } catch (e) {
        await conn.rollback().catch(() => {});
        throw e;
      }
    },
    close: () => conn.end().catch(() => {}),
  };
};

const where = (i: SqlDatabaseInputs) => `${i.client} at ${i.host}:${i.port}`;

export const createSqlDatabaseProvider = ({ connectTimeoutMs }: { connectTimeoutMs: number }): DynamicSecretProvider<SqlDatabaseInputs> => {
  const open = async (i: SqlDatabaseInputs): Promise<SqlSession> => {
    try {
      return await (i.client === "mysql2" ? openMysql(i, connectTimeoutMs) : openPostgres(i, connectTimeoutMs));
    } catch (e) {
      throw new TargetUnreachableError(`Could not connect to ${where(i)} (database '${i.database}') as '${i.username}': ${scrub(reasonOf(e, connectTimeoutMs), [i.password])}`);
    }
  };

  /** Opens a session, runs the rendered statements, closes; a failure names what was being done and where. */
  const execute = async (i: SqlDatabaseInputs, what: string, statements: string[], secrets: string[]) => {
    const session = await open(i);
    try {
      await session.run(statements);
    } catch (e) {
      throw new ProviderError(`Failed to ${what} on ${where(i)}: ${scrub(reasonOf(e, connectTimeoutMs), [i.password, ...secrets])}`);
    } finally {
      await session.close();
    }
  };

  const revoke = async (i: SqlDatabaseInputs, lease: ProviderLease) =>
    execute(i, `revoke lease user '${lease.entityId}'`, renderStatements(i.revocationStatement, { username: lease.entityId, database: i.database }, REVOKE_VARS), []);

  return {
    inputs: SqlDatabaseInputs,
    secretFields: ["password"],
    validateConnection: async (i) => {
      const session = await open(i);
      try {
        await session.run(["SELECT 1"]);
      } catch (e) {
        throw new ProviderError(`Connected to ${where(i)} but could not run a query: ${scrub(reasonOf(e, connectTimeoutMs), [i.password])}`);
      } finally {
        await session.close();
      }
    },
    create: async (i, { username, expireAt }): Promise<IssuedCredentials> => {
      const password = generatePassword(i.passwordRequirements ?? DEFAULT_PASSWORD_REQUIREMENTS);
      const vars = { username, password, expiration: expireAt.toISOString(), database: i.database };
      try {
        await execute(i, `create lease user '${username}'`, renderStatements(i.creationStatement, vars, CREATE_VARS), [password]);
      } catch (e) {
        // MySQL commits CREATE USER at once, so a failing GRANT would leave a live user no lease knows of. When no
        // session was made nothing ran, and trying again would only wait for the same timeout a second time.
        if (i.client === "mysql2" && !(e instanceof TargetUnreachableError)) await revoke(i, { entityId: username, data: {}, expireAt }).catch(() => {});
        throw e;
      }
      return { entityId: username, data: { DB_USERNAME: username, DB_PASSWORD: password } };
    },
    renew: async (i, lease) => {
      if (!i.renewStatement) return;
      const vars = { username: lease.entityId, password: lease.data.DB_PASSWORD, expiration: lease.expireAt.toISOString(), database: i.database };
      await execute(i, `renew lease user '${lease.entityId}'`, renderStatements(i.renewStatement, vars, RENEW_VARS), [lease.data.DB_PASSWORD ?? ""]);
    },
    revoke,
  };
};
