import { Command, Option } from "commander";
import { rotateRootKey } from "../server/rotate-root-key.js";

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** `kms rotate-root-key`: the data moves to a new root key; the server must be stopped (docs/server.md). */
export const rotateRootKeyCommand = (): Command =>
  new Command("rotate-root-key")
    .description("move the data to a new root encryption key (stop the server first; see docs/server.md)")
    .addOption(new Option("--data-dir <dir>", "the server's data directory").env("KMS_DATA_DIR").default("./.kms-data"))
    .addOption(new Option("--database-url <url>", "postgres://… for a PostgreSQL database").env("KMS_DATABASE_URL"))
    .option("--force", "PostgreSQL: rotate although other sessions use the database (only when none of them is a kms server)")
    .action(async (o: { dataDir: string; databaseUrl?: string; force?: boolean }) => {
      try {
        const r = await rotateRootKey({
          dataDir: o.dataDir, databaseUrl: o.databaseUrl, force: !!o.force,
          encryptionKey: process.env.KMS_ENCRYPTION_KEY, newEncryptionKey: process.env.KMS_NEW_ENCRYPTION_KEY,
        });
        if (r.resumed) {
          process.stdout.write(`finished an interrupted rotation: ${r.keyFile} now holds the key the database was moved to (fingerprint ${r.to})\n`);
          return;
        }
        process.stdout.write(
          `root key rotated: fingerprint ${r.from} -> ${r.to} (re-sealed: ${plural(r.projects, "project data key")}, ${plural(r.authMethods, "auth-method secret")})\n` +
          (r.keyFile ? `the new key is in ${r.keyFile}\n` : "set KMS_ENCRYPTION_KEY to the new key (KMS_NEW_ENCRYPTION_KEY) before starting the server\n") +
          `backups taken before now still need the old key (fingerprint ${r.from}): keep it with them, or destroy both\n`,
        );
      } catch (e) {
        process.stderr.write(`kms rotate-root-key: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
