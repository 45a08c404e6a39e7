import { lstat, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { commitTemp, fsyncDir, writeTemp } from "../files.js";
import { readState, writeState } from "./state.js";
import type { CertRecordState, PendingFile, ReadState, StateFile } from "./state.js";

/**
 * Writes a certificate set (key → chain → certificate) so that it is never torn and never mismatched
 * for long. Each file is replaced atomically (agent/files.ts), but three renames cannot be one, so the
 * set is journaled: all three temp files are written and fsynced, then the state file records them as
 * `pending`, then the renames happen, then the state is cleared. A crash after the journal is rolled
 * forward at the next start (`recoverSet`); a crash before it leaves the old set, and the temps are
 * removed.
 */

export interface FileTarget {
  path: string;
  mode: number;
}

export interface SetTargets {
  key?: FileTarget;
  chain?: FileTarget;
  certificate: FileTarget;
}

export interface SetContent {
  key?: string;
  chain?: string;
  certificate: string;
}

export const pendingPathFor = (path: string): string => join(dirname(path), `.${basename(path)}.kms-pending`);

const ordered = (t: SetTargets): FileTarget[] => [t.key, t.chain, t.certificate].filter((x): x is FileTarget => x !== undefined);

const isRegularFile = async (p: string): Promise<boolean> => {
  try {
    return (await lstat(p)).isFile();
  } catch {
    return false;
  }
};

/**
 * Replaces the set and records `next` as the current certificate. Content must already be verified
 * (key matches certificate) by the caller: nothing is written before that.
 */
export const writeSet = async (
  targets: SetTargets,
  content: SetContent,
  statePath: string,
  event: "issuance" | "renewal",
  next: CertRecordState,
): Promise<StateFile> => {
  const files: PendingFile[] = [];
  const plan: [FileTarget, string][] = [];
  if (targets.key) {
    if (content.key === undefined) throw new Error("internal: a key file is configured but no key was provided");
    plan.push([targets.key, content.key]);
  }
  if (targets.chain) plan.push([targets.chain, content.chain ?? ""]);
  plan.push([targets.certificate, content.certificate]);
  // The temps are independent: written and fsynced side by side.
  const written = await Promise.allSettled(plan.map(([t, data]) => writeTemp(t.path, data, { mode: t.mode }, pendingPathFor(t.path))));
  for (const [i, r] of written.entries()) if (r.status === "fulfilled") files.push({ temp: r.value, path: plan[i]![0].path });
  const failed = written.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await Promise.all(files.map((f) => unlink(f.temp).catch(() => {})));
    throw failed.reason;
  }
  await writeState(statePath, { version: 1, pending: { event, files, next } });
  // Renamed in order (a reader sees the certificate last), then each directory made durable once: the journal
  // is already durable, so after a crash recoverSet finishes whichever renames did not survive.
  for (const f of files) await rename(f.temp, f.path);
  await Promise.all([...new Set(files.map((f) => dirname(f.path)))].map(fsyncDir));
  const done: StateFile = { version: 1, current: next };
  await writeState(statePath, done);
  return done;
};

export interface Recovery {
  state: ReadState;
  /** Set when an interrupted replacement was completed now: its hook has not run yet. */
  rolledForward?: "issuance" | "renewal";
}

/** Completes or discards an interrupted `writeSet`. Runs before anything else touches the files. */
export const recoverSet = async (targets: SetTargets, statePath: string): Promise<Recovery> => {
  const read = await readState(statePath);
  if (read.kind === "ok" && read.state.pending) {
    const { pending } = read.state;
    for (const f of pending.files) {
      // Only the regular file writeSet made is put in place; a symlink found there is not ours.
      if (await isRegularFile(f.temp)) await commitTemp(f.temp, f.path);
    }
    const state: StateFile = { version: 1, current: pending.next };
    await writeState(statePath, state);
    return { state: { kind: "ok", state }, rolledForward: pending.event };
  }
  // No journal: temps from a write that never reached it are debris.
  for (const t of ordered(targets)) await unlink(pendingPathFor(t.path)).catch(() => {});
  return { state: read };
};
