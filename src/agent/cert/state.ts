import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../files.js";

/**
 * What the agent issued, for which request, kept on disk so a restart reuses the certificate instead of
 * issuing a new one (upstream issues on every restart, DESIGN.md known defects). The file also journals
 * a set of files being replaced (`pending`), so a crash between two renames is rolled forward at start.
 */

export const STATE_VERSION = 1;

export const CertRecordState = z.object({
  profileName: z.string().optional(),
  projectSlug: z.string().optional(),
  profileId: z.string().optional(),
  projectId: z.string().optional(),
  /** Hash of everything that shapes the request (profile, project, attributes, CSR, key source, omit-root). */
  fingerprint: z.string(),
  serialNumber: z.string(),
  certificateId: z.string().optional(),
  notAfter: z.string(),
  notBefore: z.string().optional(),
  keySource: z.enum(["server", "local", "csr", "existing"]),
  /** How many certificates the chain file holds; absent in state written before it was recorded. */
  chainCertificates: z.number().int().min(0).optional(),
  issuedAt: z.string(),
});
export type CertRecordState = z.infer<typeof CertRecordState>;

export const PendingFile = z.object({ temp: z.string(), path: z.string() });
export type PendingFile = z.infer<typeof PendingFile>;

/**
 * An asynchronous request (an external CA) the agent is polling, written before the first poll: a restarted
 * agent with the same request fingerprint polls it again instead of ordering a second certificate. With
 * key-source local the request is for a key only the agent has: `keyFile` holds it (0600) until the
 * certificate is installed.
 */
export const PendingRequest = z.object({
  id: z.string(),
  event: z.enum(["issuance", "renewal"]),
  fingerprint: z.string(),
  since: z.string(),
  keyFile: z.string().optional(),
});
export type PendingRequest = z.infer<typeof PendingRequest>;

export const StateFile = z.object({
  version: z.literal(STATE_VERSION),
  current: CertRecordState.optional(),
  pendingRequest: PendingRequest.optional(),
  pending: z
    .object({
      event: z.enum(["issuance", "renewal"]),
      /** In write order: key → chain → certificate. */
      files: z.array(PendingFile),
      next: CertRecordState,
    })
    .optional(),
});
export type StateFile = z.infer<typeof StateFile>;

/** Beside the certificate by default; under --state-dir, named after the certificate's absolute path. */
export const statePathFor = (certificatePath: string, stateDir?: string): string => {
  if (!stateDir) return `${certificatePath}.kms-state.json`;
  const abs = resolve(certificatePath);
  const tag = createHash("sha256").update(abs).digest("hex").slice(0, 16);
  return join(stateDir, `${basename(abs)}-${tag}.json`);
};

export type ReadState = { kind: "missing" } | { kind: "invalid"; reason: string } | { kind: "ok"; state: StateFile };

export const readState = async (path: string): Promise<ReadState> => {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing" };
    return { kind: "invalid", reason: (err as Error).message };
  }
  try {
    const parsed = StateFile.safeParse(JSON.parse(text));
    return parsed.success ? { kind: "ok", state: parsed.data } : { kind: "invalid", reason: parsed.error.issues[0]?.message ?? "bad shape" };
  } catch (err) {
    return { kind: "invalid", reason: (err as Error).message };
  }
};

export const writeState = (path: string, state: StateFile): Promise<void> => writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
