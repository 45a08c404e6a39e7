import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { commitTemp, fsyncDir, writeTemp } from "../agent/files.js";
import { keyFingerprint, rootKeyring } from "../crypto/envelope.js";
import { loadRootKey, parseRootKey, ROOT_KEY_FILE } from "../crypto/root-key.js";
import { workloadSecretsAad } from "../core/identity/workload-auth.js";
import { openDatabase } from "../store/db.js";
import { migrateToLatest } from "../store/migrate.js";
import { otherPostgresSessions, rewrapRootSealed } from "../store/root-sealed.js";

/** The new key waits here until the database is rewritten under it; then it becomes root.key. */
export const NEXT_ROOT_KEY_FILE = `${ROOT_KEY_FILE}.next`;

export interface RotateOptions {
  dataDir: string;
  databaseUrl?: string;
  /** KMS_ENCRYPTION_KEY: the current key, when it does not live in the data directory's key file. */
  encryptionKey?: string;
  /** KMS_NEW_ENCRYPTION_KEY: the key to rotate to (required with encryptionKey; generated otherwise). */
  newEncryptionKey?: string;
  /** PostgreSQL: go on although other sessions use the database. */
  force?: boolean;
}

export interface Rotated { from: string; to: string; projects: number; authMethods: number; keyFile?: string; resumed?: true }

/**
 * Moves the data to a new root key: every value the root key seals itself (project data keys, auth-method
 * secrets) is rewritten under the new key in one transaction, with the key check. The project data keys
 * themselves stay, so nothing else is touched and the work is proportional to projects, not secrets.
 *
 * With the key file of the data directory the new key is generated and written first as root.key.next
 * (0600, synced), then the database changes, then it replaces root.key: a crash at any point leaves a key
 * that opens the database, and running the command again finishes what was interrupted. With
 * KMS_ENCRYPTION_KEY the new key comes from KMS_NEW_ENCRYPTION_KEY and the operator swaps the variables.
 * The server must not run: SQLite's data-directory lock refuses a running one; on PostgreSQL, other sessions
 * on the database refuse the rotation unless forced.
 */
export const rotateRootKey = async (o: RotateOptions): Promise<Rotated> => {
  const fromEnv = o.encryptionKey !== undefined && o.encryptionKey !== "";
  if (fromEnv && !o.newEncryptionKey) throw new Error("KMS_NEW_ENCRYPTION_KEY: required when the current key comes from KMS_ENCRYPTION_KEY (the new key goes where the old one is kept, which only you can change)");
  const keyFile = join(o.dataDir, ROOT_KEY_FILE);
  const nextFile = join(o.dataDir, NEXT_ROOT_KEY_FILE);
  if (!fromEnv && !existsSync(keyFile)) throw new Error(`--data-dir: no ${keyFile} and no KMS_ENCRYPTION_KEY: nothing to rotate from`);
  const old = rootKeyring(loadRootKey(o.encryptionKey, o.dataDir).key);
  const database = openDatabase({ databaseUrl: o.databaseUrl, dataDir: o.dataDir });
  try {
    await migrateToLatest(database.db);
    if (database.kind === "postgres" && !o.force) {
      const others = await otherPostgresSessions(database.db);
      if (others > 0) throw new Error(`${others} other session(s) use this PostgreSQL database: stop every kms server on it first (a server still on the old key would write data the new key cannot read); --force if those sessions are not kms servers`);
    }
    const meta = async (key: string) => (await database.db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst())?.value;
    const check = await meta("root_key_check");
    if (!check) throw new Error("this database has no key check yet: start the server once before rotating its key");
    // An interrupted rotation: the database already moved to root.key.next, only the file swap is left.
    if (!fromEnv && existsSync(nextFile)) {
      const next = rootKeyring(parseRootKey(readFileSync(nextFile, "utf8"), nextFile));
      let moved = true;
      try { next.verifyCheckValue(check, undefined); } catch { moved = false; }
      if (moved) {
        await commitTemp(nextFile, keyFile);
        return { from: "(interrupted rotation)", to: next.fingerprint, projects: 0, authMethods: 0, keyFile, resumed: true };
      }
      rmSync(nextFile); // the database never moved to it: a new rotation starts over
    }
    old.verifyCheckValue(check, await meta("root_key_fingerprint"));
    const newKey = o.newEncryptionKey ? parseRootKey(o.newEncryptionKey, "KMS_NEW_ENCRYPTION_KEY") : randomBytes(32);
    if (keyFingerprint(newKey) === old.fingerprint) throw new Error("KMS_NEW_ENCRYPTION_KEY: is the current key");
    const next = rootKeyring(newKey);
    if (!fromEnv) {
      // Durably there, under its own name, before the database changes: whatever happens next, a key opens it.
      await writeTemp(keyFile, `${newKey.toString("base64")}\n`, { mode: 0o600 }, nextFile);
      await fsyncDir(o.dataDir);
    }
    const counts = await rewrapRootSealed(database.db, {
      dataKey: (projectId, wrapped) => next.wrapDataKey(old.unwrapDataKey(wrapped, projectId), projectId),
      workloadSecrets: (rowId, sealed) => next.seal(old.open(sealed, workloadSecretsAad({ id: rowId })), workloadSecretsAad({ id: rowId })),
      check: { value: next.checkValue(), fingerprint: next.fingerprint },
    });
    if (!fromEnv) await commitTemp(nextFile, keyFile);
    return { from: old.fingerprint, to: next.fingerprint, ...counts, ...(!fromEnv && { keyFile }) };
  } finally {
    await database.close();
  }
};
