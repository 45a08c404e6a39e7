import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";
import { startCheckpointer } from "./checkpointer.js";
import { postgresChannel, type Channel } from "./channels.js";
import { usePostgresNamedStatements } from "./prepared.js";

export type DatabaseKind = "sqlite" | "postgres";

export interface OpenDatabaseOptions {
  /** A `postgres://` or `postgresql://` URL selects PostgreSQL; anything else means embedded SQLite. */
  databaseUrl?: string;
  dataDir: string;
  /**
   * PostgreSQL: a pooled connection that broke while idle (the database restarted, failed over, or ended it).
   * The pool has already dropped it and the next query opens a new one; this only reports it.
   */
  onConnectionLost?: (message: string) => void;
}

export interface OpenedDatabase {
  db: Kysely<Database>;
  kind: DatabaseKind;
  /** Human description for logs, never containing a password. */
  describe: string;
  /**
   * A message channel to the other server processes on this database (PostgreSQL only: an SQLite file has
   * one server). Closed with the database.
   */
  channel?(name: string, onError: (message: string) => void): Channel;
  close(): Promise<void>;
}

export const isPostgresUrl = (url: string | undefined): url is string => !!url && /^postgres(ql)?:\/\//i.test(url);

export const openDatabase = (opts: OpenDatabaseOptions): OpenedDatabase => {
  if (isPostgresUrl(opts.databaseUrl)) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // Without a listener, node-postgres re-emits an idle connection's error as an unhandled 'error' event,
    // and the server process dies the first time the database ends an idle connection.
    pool.on("error", (e) => opts.onConnectionLost?.(`PostgreSQL ended an idle pooled connection: ${e.message}; the next query opens a new one`));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    usePostgresNamedStatements(db, pool);
    const u = new URL(opts.databaseUrl);
    const channels: Channel[] = [];
    return {
      db, kind: "postgres", describe: `postgres://${u.host}${u.pathname}`,
      channel: (name, onError) => {
        const c = postgresChannel(pool, opts.databaseUrl!, name, onError);
        channels.push(c);
        return c;
      },
      close: async () => {
        await Promise.all(channels.map((c) => c.close()));
        await db.destroy();
      },
    };
  }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(opts.dataDir);
  const file = join(opts.dataDir, "kms.sqlite");
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  // Checkpoints run in a worker thread (checkpointer.ts); should it fail, SQLite's own come back.
  const checkpointer = startCheckpointer(file, sqlite, () => { if (sqlite.open) sqlite.pragma("wal_autocheckpoint = 1000"); });
  if (checkpointer) sqlite.pragma("wal_autocheckpoint = 0");
  // A burst can grow the WAL; once it restarts, the file is cut back to this size.
  sqlite.pragma("journal_size_limit = 67108864");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: keepingStatements(sqlite) }) });
  return {
    db, kind: "sqlite", describe: `sqlite:${file}`,
    close: async () => {
      await db.destroy();
      await checkpointer?.stop();
      lock.close();
    },
  };
};

/** Another process holds the SQLite data directory (see lockDataDir). */
export class DataDirInUseError extends Error {
  constructor(readonly dir: string, readonly pid: number | undefined) {
    super(`data directory ${dir} is in use by another kms server${pid ? ` (pid ${pid})` : ""}; one server per SQLite data directory (several servers share a PostgreSQL database instead)`);
  }
}

/**
 * One server per SQLite data directory. A second one on the same file would work at the SQL level, but its
 * change streams would never hear of the first one's writes (there is no relay between processes on one
 * file, as PostgreSQL's LISTEN/NOTIFY is between servers), and two `kms dev` runs would fight over the same
 * certificate files. The lock is SQLite's own: a small database held in exclusive locking mode, so the
 * operating system releases it whenever the process ends, kill -9 included, and no stale lock file is left
 * to clean up. `kms.pid` beside it only says who holds it, for the error message.
 */
const lockDataDir = (dir: string): BetterSqlite3.Database => {
  // timeout 0: a held lock is an answer, not something to wait for.
  const lock = new BetterSqlite3(join(dir, "kms.lock"), { timeout: 0 });
  try {
    lock.pragma("locking_mode = EXCLUSIVE");
    // The first write takes the exclusive lock; in this locking mode it is kept until the connection closes.
    lock.exec(`CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder; INSERT INTO holder VALUES (${process.pid});`);
  } catch (e) {
    lock.close();
    if ((e as { code?: string }).code !== "SQLITE_BUSY") throw e;
    let pid: number | undefined;
    try {
      pid = Number.parseInt(readFileSync(join(dir, "kms.pid"), "utf8"), 10) || undefined;
    } catch {
      // no pid file: the holder did not get that far
    }
    throw new DataDirInUseError(dir, pid);
  }
  writeFileSync(join(dir, "kms.pid"), `${process.pid}\n`, { mode: 0o600 });
  return lock;
};

/**
 * Kysely's SQLite driver prepares every query anew; a prepare costs ~25 µs (measured, a PK lookup runs in
 * ~1.5 µs), and the hot paths (token check, issuance) run the same dozen statements all day. So statements
 * are kept by their SQL text. Safe to share: Kysely runs one query at a time on the single connection, and
 * SQLite re-prepares a kept statement itself after a schema change. Bounded, since `IN (?, ?, …)` lists make
 * new texts.
 */
const keepingStatements = (sqlite: BetterSqlite3.Database) => {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (sql: string) => {
      let stmt = statements.get(sql);
      if (!stmt) {
        stmt = sqlite.prepare(sql);
        if (statements.size < 1000) statements.set(sql, stmt);
      }
      return stmt;
    },
  };
};
