import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { startHelperWorker } from "./helper-workers.js";
import type { PublicKeyInput } from "./key-der.js";

/**
 * Signature checks with a public key that arrives with the request (a CSR's proof of possession), on worker
 * threads. Such a key must first be imported, and OpenSSL 3 spends ~50 µs on that import, synchronously on the
 * calling thread, then more on the key's first use; node:crypto's callback form moves only the verification
 * to the thread pool. Under issuance load that import was an eighth of the event loop's time per certificate.
 * Here import and verification both run on a small pool of worker threads (one per core, started on first use,
 * a nice step below the event loop: helper-workers.ts), and the event loop only passes bytes.
 */

export type VerifyOutcome =
  | { result: "verified" | "invalid"; keyType: string }
  | { result: "key-unusable" }
  /** The key is not of the expected type (`keyType` says what it is); nothing was verified. */
  | { result: "wrong-key-type"; keyType: string };

export interface VerifyRequest {
  key: PublicKeyInput;
  /** Digest name for node:crypto's verify, e.g. "sha256"; null for algorithms without one. */
  hash: string | null;
  data: Buffer;
  signature: Buffer;
  /** The asymmetricKeyType the key must have ("rsa", "ec"); otherwise no verification is attempted. */
  expectKeyType?: string;
}

const WORKER = `
const { parentPort } = require("node:worker_threads");
const { createPublicKey, verify } = require("node:crypto");
parentPort.on("message", (m) => {
  let key;
  try { key = createPublicKey(m.key); } catch { return parentPort.postMessage({ id: m.id, result: "key-unusable" }); }
  const keyType = key.asymmetricKeyType;
  if (m.expectKeyType && keyType !== m.expectKeyType) return parentPort.postMessage({ id: m.id, result: "wrong-key-type", keyType });
  let ok = false;
  try { ok = verify(m.hash, m.data, key, m.signature); } catch {}
  parentPort.postMessage({ id: m.id, result: ok ? "verified" : "invalid", keyType });
});
`;

interface Slot { worker: Worker; pending: Map<number, { resolve(o: VerifyOutcome): void; reject(e: Error): void }> }

const slots: (Slot | undefined)[] = [];
let next = 0;
let ids = 0;

const start = (index: number): Slot => {
  const pending: Slot["pending"] = new Map();
  // An idle pool never keeps the process alive; a pending check does (ref while anything is in flight).
  const worker = startHelperWorker(WORKER, {
    message: (m) => {
      const { id, ...outcome } = m as VerifyOutcome & { id: number };
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      if (pending.size === 0) worker.unref();
      p.resolve(outcome as VerifyOutcome);
    },
    gone: (e) => {
      if (slots[index] === slot) slots[index] = undefined;
      for (const p of pending.values()) p.reject(new Error(`signature worker: ${e.message}`));
      pending.clear();
    },
  });
  const slot: Slot = { worker, pending };
  return slot;
};

const size = Math.max(1, Math.min(4, availableParallelism()));

/** Imports the key and verifies the signature on a worker thread. Rejects only if the worker itself fails. */
export const verifyOffThread = (r: VerifyRequest): Promise<VerifyOutcome> => {
  const index = next;
  next = (next + 1) % size;
  const slot = (slots[index] ??= start(index));
  const id = ++ids;
  return new Promise<VerifyOutcome>((resolve, reject) => {
    if (slot.pending.size === 0) slot.worker.ref();
    slot.pending.set(id, { resolve, reject });
    slot.worker.postMessage({ id, key: r.key, hash: r.hash, data: r.data, signature: r.signature, expectKeyType: r.expectKeyType });
  });
};
