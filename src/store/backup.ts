import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, openSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import BetterSqlite3 from "better-sqlite3";

export interface SqliteBackup { file: string; bytes: number; rootKeyFingerprint: string | undefined; migration: string | undefined }

/**
 * A consistent copy of a data directory's SQLite database, taken with SQLite's online backup while a server
 * may be running and writing (WAL mode lets the copy read a snapshot beside it). The copy is checked
 * (`PRAGMA integrity_check`) and appears at `out` only when whole: it is written to a temporary file in the
 * same directory, fsynced, and linked into place, which fails rather than overwrite a file already there.
 * Mode 0600. The root key is not in it: sealed values stay sealed, and a copy without its key is unreadable.
 */
export const backupSqlite = async (dataDir: string, out: string): Promise<SqliteBackup> => {
  const file = join(dataDir, "kms.sqlite");
  if (!existsSync(file)) throw new Error(`--data-dir: ${file} does not exist (no SQLite database of a kms server there)`);
  if (existsSync(out)) throw new Error(`--out: ${out} already exists; a backup never overwrites a file`);
  const temp = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString("hex")}.tmp`);
  const source = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    source.pragma("busy_timeout = 5000");
    await source.backup(temp);
  } finally {
    source.close();
  }
  try {
    chmodSync(temp, 0o600);
    const copy = new BetterSqlite3(temp, { readonly: true });
    let meta: { key: string; value: string }[];
    let migration: string | undefined;
    try {
      const check = copy.pragma("integrity_check", { simple: true });
      if (check !== "ok") throw new Error(`the copy failed SQLite's integrity check: ${String(check)}`);
      meta = copy.prepare("SELECT key, value FROM meta WHERE key = 'root_key_fingerprint'").all() as { key: string; value: string }[];
      migration = (copy.prepare("SELECT name FROM kysely_migration ORDER BY name DESC LIMIT 1").get() as { name: string } | undefined)?.name;
    } finally {
      copy.close();
    }
    const fd = openSync(temp, "r");
    try { fsyncSync(fd); } finally { closeSync(fd); }
    linkSync(temp, out); // fails with EEXIST instead of replacing a file that appeared meanwhile
    const dirFd = openSync(dirname(out), "r");
    try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
    return { file: out, bytes: statSync(out).size, rootKeyFingerprint: meta[0]?.value, migration };
  } finally {
    if (existsSync(temp)) unlinkSync(temp);
  }
};
