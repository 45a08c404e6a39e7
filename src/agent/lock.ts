import { constants, readFileSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";

/**
 * Two agents managing the same certificate (a second `kms cert-manager agent` on the same configuration, a
 * manual run beside the systemd one) would both issue, and their writes of the same files could interleave.
 * So a certificate's loop holds a lock file beside its state file while it runs. The file names its holder
 * (pid and, on Linux, the process start time, so a reused pid is not taken for the holder); a holder that
 * is gone (kill -9, a reboot) leaves a stale file, which the next agent takes over.
 */
export class LockHeldError extends Error {
  constructor(readonly path: string, readonly pid: number) {
    super(`${path} is held by another kms agent (pid ${pid}), which manages these files: stop it, or give this agent other paths`);
  }
}

/** Start time of a process in clock ticks since boot (Linux /proc), or undefined where it cannot be read. */
const startTimeOf = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
};

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** The holder a lock file names, if that process still runs (the same process: same pid and start time). */
const liveHolder = (text: string): number | undefined => {
  const [pidText, start] = text.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  if (start && startTimeOf(pid) !== undefined && startTimeOf(pid) !== start) return undefined;
  return pid;
};

/** Takes the lock at `path`; resolves with its release. LockHeldError when another live process holds it. */
export const acquireFileLock = async (path: string): Promise<() => Promise<void>> => {
  const started = startTimeOf(process.pid);
  const me = `${process.pid}${started ? ` ${started}` : ""}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try { await fh.writeFile(me); } finally { await fh.close(); }
      return async () => {
        // Only our own: after a takeover (we were presumed dead) the file is someone else's.
        if ((await readFile(path, "utf8").catch(() => "")) === me) await rm(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text === undefined) continue; // released meanwhile: try again
    if (text === me) return async () => { await rm(path, { force: true }); }; // a loop of this process that did not release
    const holder = liveHolder(text);
    if (holder !== undefined) throw new LockHeldError(path, holder);
    // Stale. Removed only if unchanged since read, so a lock another agent just took over is left alone.
    if ((await readFile(path, "utf8").catch(() => undefined)) === text) await rm(path, { force: true });
  }
  throw new Error(`${path}: could not take the lock (it keeps changing hands)`);
};
