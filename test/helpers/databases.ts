import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { openDatabase, type OpenedDatabase } from "../../src/store/db.js";
import { migrateToLatest } from "../../src/store/migrate.js";
import { createPgDatabase } from "./postgres.js";
import { needService } from "./services.js";

/** A migrated database opened as the server opens it, for store-level tests; `done()` closes and removes it. */
export interface TestDatabase { d: OpenedDatabase; postgres: boolean; done(): Promise<void> }

/** SQLite in a fresh data directory. */
export const openSqliteTestDatabase = async (prefix = "kms-store-"): Promise<TestDatabase> => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const d = openDatabase({ dataDir: dir });
  await migrateToLatest(d.db);
  return { d, postgres: false, done: async () => { await d.close(); rmSync(dir, { recursive: true, force: true }); } };
};

/** A fresh PostgreSQL database; undefined when PostgreSQL is missing (skipped loudly, or failed under KMS_REQUIRE_SERVICES=1). */
export const openPostgresTestDatabase = async (t: TestContext): Promise<TestDatabase | undefined> => {
  if (!(await needService(t, "postgres"))) return undefined;
  const pg = createPgDatabase();
  const d = openDatabase({ dataDir: "", databaseUrl: pg.url });
  await migrateToLatest(d.db);
  return { d, postgres: true, done: async () => { await d.close(); pg.drop(); } };
};
