import { constants } from "node:fs";
import { chmod, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, isAbsolute, join } from "node:path";

/**
 * Atomic file replacement, the way DESIGN.md prescribes: temp file created 0600 in the same directory
 * → write → fsync → chmod to the configured mode → rename → fsync the directory. A crash leaves the old
 * file or the new one, never half of one, and the mode is enforced on every write (upstream applied it
 * only at creation, DESIGN.md known defects).
 */

export const DIR_MODE = 0o755;

/** Create a new file or fail: never reuse an existing one, never follow a symlink. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface WriteOptions {
  /** Final permission bits, e.g. 0o644. */
  mode: number;
}

/**
 * `mkdir -p` that always ends. Node's own recursive mkdir of a relative path retries forever, on the thread
 * pool, once the working directory has been removed (each attempt answers ENOENT): the agent then burns a
 * core and never finishes a graceful stop. This one walks up one level per missing parent, so it fails with
 * ENOENT instead, and says why when the path is relative.
 */
export const ensureDir = async (dir: string, mode = DIR_MODE): Promise<void> => {
  try {
    await mkdir(dir, { mode });
    // mkdir's mode passes through the umask (the systemd unit's UMask=0077 made 0700): set it as documented,
    // on the directories made here only.
    await chmod(dir, mode);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && (await stat(dir)).isDirectory()) return;
    if (code !== "ENOENT" || dirname(dir) === dir) throw err;
  }
  await ensureDir(dirname(dir), mode);
  try {
    await mkdir(dir, { mode });
    await chmod(dir, mode);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EEXIST") return;
    if (e.code === "ENOENT" && !isAbsolute(dir)) e.message += " (the working directory, which relative paths start from, no longer exists)";
    throw e;
  }
};

/** Writes `data` to a temp file beside `path` and returns the temp path, fsynced and chmod'ed, not yet renamed. */
export const writeTemp = async (path: string, data: string | Uint8Array, opts: WriteOptions, tempPath?: string): Promise<string> => {
  const dir = dirname(path);
  await ensureDir(dir);
  const tmp = tempPath ?? join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  // A fixed name (the set writer's journal needs one) is predictable: whatever sits there, a leftover or a symlink
  // planted to make a root agent write elsewhere, is removed, and the file is always created anew, never followed.
  if (tempPath) await unlink(tmp).catch((err: NodeJS.ErrnoException) => { if (err.code !== "ENOENT") throw err; });
  let fh;
  try {
    fh = await open(tmp, CREATE_NEW, 0o600);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (tempPath && (e.code === "EEXIST" || e.code === "ELOOP")) e.message = `temp file ${tmp} reappeared while it was being replaced; not writing through it (${e.message})`;
    throw e;
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
    await preserveOwner(fh, path);
    await fh.chmod(opts.mode);
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  return tmp;
};

/** Renames a prepared temp file over its target and makes the rename durable. */
export const commitTemp = async (tmp: string, path: string): Promise<void> => {
  await rename(tmp, path);
  await fsyncDir(dirname(path));
};

export const writeFileAtomic = async (path: string, data: string | Uint8Array, opts: WriteOptions): Promise<void> => {
  const tmp = await writeTemp(path, data, opts);
  try {
    await commitTemp(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
};

export const fsyncDir = async (dir: string): Promise<void> => {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a directory; the rename itself has still happened.
    if ((err as NodeJS.ErrnoException).code !== "EINVAL" && (err as NodeJS.ErrnoException).code !== "EISDIR") throw err;
  } finally {
    await fh.close();
  }
};

// Hooks often chown the files for the service that reads them (the seed's example does
// `chown nginx:nginx`); a replacement keeps that owner when we are allowed to set it.
const preserveOwner = async (fh: import("node:fs/promises").FileHandle, path: string): Promise<void> => {
  let st;
  try {
    st = await stat(path);
  } catch {
    return;
  }
  const me = await fh.stat();
  if (st.uid === me.uid && st.gid === me.gid) return;
  await fh.chown(st.uid, st.gid).catch(() => {});
};

/** Parses a permission written as an octal string ("0644", "644", "0o644") or a YAML number read the same way. */
export const parseMode = (value: string | number): number | undefined => {
  const s = String(value).trim().replace(/^0o/i, "");
  if (!/^[0-7]{1,5}$/.test(s)) return undefined;
  const n = parseInt(s, 8);
  return n <= 0o7777 ? n : undefined;
};

/** Fails early when a directory cannot receive our files (STYLE rule 10: check surroundings first). */
export const assertWritableDir = async (path: string): Promise<void> => {
  const dir = dirname(path);
  await ensureDir(dir);
  const probe = join(dir, `.kms-write-check-${process.pid}-${randomBytes(4).toString("hex")}`);
  const fh = await open(probe, CREATE_NEW, 0o600);
  await fh.close();
  await unlink(probe);
};
