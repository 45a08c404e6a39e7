import { Command, Option } from "commander";
import { backupSqlite } from "../store/backup.js";

/**
 * `kms backup --data-dir DIR --out FILE`: a consistent copy of the embedded SQLite database, safe while the
 * server runs. PostgreSQL deployments use the database's own tools (pg_dump). The root key is never in a
 * backup: it is kept apart, and a backup is unreadable without it.
 */
export const backupCommand = (): Command =>
  new Command("backup")
    .description("copy the embedded SQLite database consistently, also while the server runs (the root key is not included)")
    .addOption(new Option("--data-dir <dir>", "the server's data directory").env("KMS_DATA_DIR").default("./.kms-data"))
    .requiredOption("--out <file>", "where to write the copy (must not exist)")
    .addOption(new Option("--database-url <url>", "(PostgreSQL: refused; use pg_dump)").env("KMS_DATABASE_URL").hideHelp())
    .action(async (o: { dataDir: string; out: string; databaseUrl?: string }) => {
      if (o.databaseUrl) {
        process.stderr.write("kms backup: --database-url: a PostgreSQL database is backed up with its own tools (pg_dump -Fc), not by kms\n");
        process.exit(1);
      }
      try {
        const b = await backupSqlite(o.dataDir, o.out);
        process.stdout.write(
          `backup written: ${b.file} (${b.bytes} bytes, schema ${b.migration ?? "unknown"})\n` +
          `the root key is not in it${b.rootKeyFingerprint ? ` (fingerprint ${b.rootKeyFingerprint})` : ""}: keep root.key or KMS_ENCRYPTION_KEY apart from it; without the key the backup cannot be read\n`,
        );
      } catch (e) {
        process.stderr.write(`kms backup: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
