import { CompiledQuery } from "kysely";
import type { Kysely } from "kysely";
import type { Database } from "./schema.js";
import { dialectOf, insertRowsQuery } from "./prepared.js";

/**
 * Group commit for hot inserts: rows handed over in the same turn of the event loop are written in ONE
 * transaction, table by table as multi-row INSERTs, and every caller's promise resolves only after that
 * transaction committed (so a caller still answers only once its rows are durable). Under load an SQLite
 * commit costs more than the inserts it carries (measured ~90 µs against ~50 µs for a certificate row), and
 * concurrent issuances finish their signatures in the same turn, so they share it.
 *
 * A batch that fails is retried item by item, each in its own transaction: one bad row (a constraint, a
 * project deleted meanwhile) fails only its own caller.
 */

type Table = keyof Database & string;
export type InsertSet = ReadonlyArray<readonly [table: Table, row: object]>;

interface Item { rows: InsertSet; resolve(): void; reject(err: unknown): void }

/** Rows per INSERT statement: well under SQLite's limit of 32,766 bound parameters for our widest table. */
const CHUNK = 100;
/** Bound parameters in one PostgreSQL statement (its protocol allows 65,535). */
const MAX_PG_PARAMETERS = 30_000;

export interface GroupCommit {
  /** Inserts the rows (tables in the order given) with the next shared transaction; resolves after its commit. */
  insert(rows: InsertSet): Promise<void>;
}

export const groupCommit = (db: Kysely<Database>): GroupCommit => {
  let queue: Item[] = [];
  let scheduled = false;
  let flushing = false;
  let dialect: "sqlite" | "postgres" | undefined;

  /** The batch's rows by table, in first-seen order, which keeps each item's own order (certificate before its request). */
  const chunksOf = (items: readonly Item[]): [Table, object[]][] => {
    const byTable = new Map<Table, object[]>();
    for (const item of items) for (const [table, row] of item.rows) {
      let list = byTable.get(table);
      if (!list) byTable.set(table, (list = []));
      list.push(row);
    }
    const chunks: [Table, object[]][] = [];
    for (const [table, rows] of byTable) for (let i = 0; i < rows.length; i += CHUNK) chunks.push([table, rows.slice(i, i + CHUNK)]);
    return chunks;
  };

  /**
   * PostgreSQL: the batch as ONE statement, its INSERTs as data-modifying CTEs (`WITH a AS (INSERT …) INSERT …`).
   * A statement is atomic by itself and its foreign keys are checked at its end, so it needs no BEGIN/COMMIT:
   * one round trip where a transaction takes five (each a socket write and a wake-up of the backend).
   * Undefined when a chunk needs Kysely's builder or the parameters would pass PostgreSQL's limit.
   */
  const oneStatement = (chunks: readonly [Table, object[]][]): CompiledQuery | undefined => {
    const parts: string[] = [];
    const parameters: unknown[] = [];
    for (const [table, rows] of chunks) {
      const q = insertRowsQuery("postgres", table, rows, parameters.length + 1);
      if (!q || parameters.length + q.parameters.length > MAX_PG_PARAMETERS) return undefined;
      parts.push(q.sql);
      parameters.push(...q.parameters);
    }
    const last = parts.pop()!;
    return CompiledQuery.raw(parts.length ? `with ${parts.map((sql, i) => `s${i} as (${sql})`).join(", ")} ${last}` : last, parameters);
  };

  const write = async (items: readonly Item[]) => {
    dialect ??= dialectOf(db);
    const chunks = chunksOf(items);
    const single = dialect === "postgres" ? oneStatement(chunks) : undefined;
    if (single) return void (await db.executeQuery(single));
    await db.transaction().execute(async (tx) => {
      for (const [table, rows] of chunks) {
        const query = insertRowsQuery(dialect!, table, rows);
        // Kysely types values per table; the rows were typed by the store that queued them.
        if (query) await tx.executeQuery(query);
        else await tx.insertInto(table).values(rows as never).execute();
      }
    });
  };

  const flush = async () => {
    scheduled = false;
    flushing = true;
    const items = queue;
    queue = [];
    try {
      await write(items);
      for (const item of items) item.resolve();
    } catch (batchError) {
      if (items.length === 1) items[0]!.reject(batchError);
      else for (const item of items) await write([item]).then(item.resolve, item.reject);
    } finally {
      flushing = false;
      if (queue.length) schedule();
    }
  };

  const schedule = () => {
    if (scheduled || flushing) return;
    scheduled = true;
    setImmediate(() => void flush());
  };

  return {
    insert: (rows) =>
      new Promise<void>((resolve, reject) => {
        queue.push({ rows, resolve, reject });
        schedule();
      }),
  };
};

/**
 * Counts that many callers bump at once (token uses): increments arriving in the same turn of the event loop
 * (or, with `windowMs`, within that many milliseconds) are summed per key and written by one `write(counts)`;
 * every caller's promise resolves after that write. A window's timer never keeps the process alive.
 */
export const coalescingCounter = <K>(write: (counts: ReadonlyMap<K, number>) => Promise<void>, o: { windowMs?: number } = {}) => {
  let pending = new Map<K, number>();
  let waiters: { resolve(): void; reject(err: unknown): void }[] = [];
  let scheduled = false;
  const flush = async () => {
    scheduled = false;
    const counts = pending;
    const done = waiters;
    pending = new Map();
    waiters = [];
    try {
      await write(counts);
      for (const w of done) w.resolve();
    } catch (err) {
      for (const w of done) w.reject(err);
    }
  };
  return (key: K): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      pending.set(key, (pending.get(key) ?? 0) + 1);
      waiters.push({ resolve, reject });
      if (!scheduled) {
        scheduled = true;
        if (o.windowMs) setTimeout(() => void flush(), o.windowMs).unref();
        else setImmediate(() => void flush());
      }
    });
};
