import { CompiledQuery } from "kysely";
import type { Compilable, Kysely } from "kysely";
import type { Database } from "./schema.js";

/**
 * Queries on the hot paths (the token check on every request, issuance) compiled once instead of per call.
 * Kysely builds an immutable tree of frozen nodes and walks it to SQL on every execution; for a short lookup
 * that costs more than SQLite needs to answer it (measured under issuance load: ~10 µs of SQLite, several
 * times that in building, compiling and the garbage they leave). The SQL of a query depends only on its
 * shape, so the builder runs once with sentinel arguments, and each call substitutes the real values at the
 * sentinels' positions in the parameter list. Works for every dialect, since it only reuses what Kysely compiled.
 * The lookups run outside any transaction, on whichever connection the pool gives.
 */
export type Prepared<A extends readonly unknown[], R> = {
  all(...args: A): Promise<R[]>;
  first(...args: A): Promise<R | undefined>;
};

const SENTINEL = "\u0000kms-prepared-argument-";

/** What prepare() needs of a node-postgres pool: a query with a statement name. */
export interface NamedStatementPool {
  query(q: { name?: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * PostgreSQL pools behind Kysely instances, registered by db.ts. Through them the prepared queries go out as
 * named statements: PostgreSQL parses and plans each once per connection instead of on every call, which took
 * a quarter off the machine's CPU per certificate (server and database together) under issuance load.
 */
const postgresPools = new WeakMap<object, NamedStatementPool>();
export const usePostgresNamedStatements = (db: Kysely<Database>, pool: NamedStatementPool): void => {
  postgresPools.set(db, pool);
};
let statementNames = 0;

export const prepare = <A extends readonly unknown[], R>(db: Kysely<Database>, build: (...args: A) => Compilable<R>): Prepared<A, R> => {
  let compiled: { sql: string; slots: (number | { value: unknown })[] } | undefined;
  const compile = (arity: number) => {
    const q = build(...(Array.from({ length: arity }, (_, i) => `${SENTINEL}${i}`) as unknown as A)).compile();
    const slots = q.parameters.map((p) => (typeof p === "string" && p.startsWith(SENTINEL) ? Number(p.slice(SENTINEL.length)) : { value: p }));
    // Every argument must land in exactly one parameter; one used as an identifier or in a string would not.
    for (let i = 0; i < arity; i++)
      if (slots.filter((s) => s === i).length !== 1) throw new Error(`prepare: argument ${i} of "${q.sql}" is not a single parameter`);
    return { sql: q.sql, slots };
  };
  const pool = postgresPools.get(db);
  // A fresh name after "cached plan must not change result type" (another server's migration changed a table
  // under a statement this connection had prepared); none at all once PostgreSQL says a statement it prepared
  // does not exist (a pooler such as PgBouncer in transaction mode hands each query another connection).
  let name: string | undefined = pool ? `kms_prepared_${++statementNames}` : undefined;
  const run = async (args: A, retried = false): Promise<R[]> => {
    compiled ??= compile(args.length);
    const c = compiled;
    const params = c.slots.map((s) => (typeof s === "number" ? args[s] : s.value));
    if (!pool || !name) return (await db.executeQuery<R>(CompiledQuery.raw(c.sql, params))).rows;
    try {
      return (await pool.query({ name, text: c.sql, values: params })).rows as R[];
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (retried || (code !== "0A000" && code !== "26000")) throw e;
      name = code === "0A000" ? `kms_prepared_${++statementNames}` : undefined;
      return run(args, true);
    }
  };
  return {
    all: (...args) => run(args),
    first: async (...args) => (await run(args))[0],
  };
};

/**
 * One multi-row INSERT of rows that share their columns, as SQL text: what group commit writes per table.
 * Kysely's builder costs tens of microseconds per row here (a node per value); this is a string join.
 * Column names come from our own row objects (typed by the schema), never from input. Undefined when the
 * rows differ in their columns or leave one undefined (Kysely would omit it): then the caller uses the builder.
 * PostgreSQL placeholders are numbered from `firstParameter`, for a statement that carries several INSERTs.
 */
export const insertRowsQuery = (dialect: "sqlite" | "postgres", table: string, objects: readonly object[], firstParameter = 1): CompiledQuery | undefined => {
  const rows = objects as readonly Record<string, unknown>[];
  const columns = Object.keys(rows[0]!);
  for (const row of rows) {
    const keys = Object.keys(row);
    if (keys.length !== columns.length || keys.some((k, i) => k !== columns[i] || row[k] === undefined)) return undefined;
  }
  const params: unknown[] = [];
  const tuples: string[] = [];
  for (const row of rows) {
    const marks: string[] = [];
    for (const c of columns) {
      params.push(row[c]);
      marks.push(dialect === "postgres" ? `$${firstParameter - 1 + params.length}` : "?");
    }
    tuples.push(`(${marks.join(", ")})`);
  }
  return CompiledQuery.raw(`insert into "${table}" (${columns.map((c) => `"${c}"`).join(", ")}) values ${tuples.join(", ")}`, params);
};

/** Which placeholder style a Kysely instance compiles to. */
export const dialectOf = (db: Kysely<Database>): "sqlite" | "postgres" =>
  db.selectFrom("meta").select("key").where("key", "=", "x").compile().sql.includes("$1") ? "postgres" : "sqlite";
