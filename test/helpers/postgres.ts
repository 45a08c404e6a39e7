import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Kysely, PostgresDialect, type LogEvent } from "kysely";
import pg from "pg";
import type { Database } from "../../src/store/schema.js";

/** A fresh PostgreSQL database for one test file, dropped afterwards. */
export const createPgDatabase = (): { url: string; name: string; drop(): void } => {
  const name = `kms_test_${randomBytes(6).toString("hex")}`;
  const psql = (sql: string) => execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql], { stdio: "pipe" });
  psql(`CREATE DATABASE ${name}`);
  return {
    name,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
};

/**
 * A fresh database behind a Kysely instance of our schema on a one-connection pool (so consecutive queries
 * meet the same session), for store tests that need the pool itself. `done()` closes and drops it.
 */
export const openPgKysely = (opts: { log?: (query: { sql: string; parameters: readonly unknown[] }) => void } = {}) => {
  const database = createPgDatabase();
  const pool = new pg.Pool({ connectionString: database.url, max: 1 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(opts.log && { log: (e: LogEvent) => { if (e.level === "query") opts.log!(e.query); } }) });
  return { db, pool, done: async () => { await db.destroy(); database.drop(); } };
};
