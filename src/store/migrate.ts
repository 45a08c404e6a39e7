import { Migrator, type Kysely, type Migration, type MigrationProvider } from "kysely";
import * as m001 from "./migrations/001_core.js";
import * as m002 from "./migrations/002_pki.js";
import * as m003dyn from "./migrations/003_dynamic_secrets.js";
import * as m003 from "./migrations/003_secrets.js";
import * as m004 from "./migrations/004_enrollment.js";
import * as m005 from "./migrations/005_workload_identity.js";
import * as m006 from "./migrations/006_external_ca.js";
import * as m007 from "./migrations/007_acme_replaces.js";
import * as m008 from "./migrations/008_seal_reminder_notes.js";
import * as m009 from "./migrations/009_certificates_by_serial.js";
import * as m010 from "./migrations/010_certificates_revoked.js";
import * as m011 from "./migrations/011_certificate_requests_by_project.js";
import * as m012 from "./migrations/012_kms_keys.js";
import * as m013 from "./migrations/013_temporary_memberships.js";
import * as m014 from "./migrations/014_ca_certificate_revocation.js";

// Migrations are listed here rather than read from disk, so a bundled `kms` carries them. Kysely runs them
// in the order of their names and records each name in the database, so a name never changes once released:
// that is why two are numbered 003 (written side by side, released together; "003_dynamic_secrets" runs
// first). New migrations take the next free number.
const migrations: Record<string, Migration> = {
  "001_core": m001,
  "002_pki": m002,
  "003_dynamic_secrets": m003dyn,
  "003_secrets": m003,
  "004_enrollment": m004,
  "005_workload_identity": m005,
  "006_external_ca": m006,
  "007_acme_replaces": m007,
  "008_seal_reminder_notes": m008,
  "009_certificates_by_serial": m009,
  "010_certificates_revoked": m010,
  "011_certificate_requests_by_project": m011,
  "012_kms_keys": m012,
  "013_temporary_memberships": m013,
  "014_ca_certificate_revocation": m014,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export const migrateToLatest = async (db: Kysely<any>): Promise<void> => {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  // A database a newer kms has migrated: say so, rather than Kysely's "corrupted migrations".
  const newer = /previously executed migration (\S+) is missing/.exec((error as Error | undefined)?.message ?? "");
  if (newer) {
    const known = Object.keys(migrations).at(-1);
    throw new Error(`the database was migrated by a newer kms (it has migration ${newer[1]}; this one knows migrations up to ${known}): run the same or a newer version of kms on it`, { cause: error });
  }
  if (error) throw new Error(`database migration ${failed?.migrationName ?? ""} failed: ${(error as Error).message}`, { cause: error });
};

/**
 * Runs the `down` of every migration after `name`, newest first, and un-records it: a database as the release
 * that ended with `name` left it, for the tests of upgrades. Kysely skips a migration without a `down` (a
 * conversion that cannot be undone) and leaves it recorded, so `name` should be that migration or a later one.
 */
export const migrateDownTo = async (db: Kysely<any>, name: string): Promise<void> => {
  if (!(name in migrations)) throw new Error(`unknown migration ${name}`);
  const { error, results } = await new Migrator({ db, provider }).migrateTo(name);
  const failed = results?.find((r) => r.status === "Error");
  if (error) throw new Error(`migrating down to ${name} failed at ${failed?.migrationName ?? "?"}: ${(error as Error).message}`, { cause: error });
};
