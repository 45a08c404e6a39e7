import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A scratch directory for PEM files handed to openssl. */
export const scratch = (prefix = "kms-openssl-") => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    write: (name: string, content: string | Buffer) => { const p = join(dir, name); writeFileSync(p, content); return p; },
    path: (name: string) => join(dir, name),
  };
};

/** Runs openssl; returns exit status and combined output (never throws). */
export const openssl = (...args: string[]): { status: number; out: string } => {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
};

export const opensslOk = (...args: string[]): string => execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
