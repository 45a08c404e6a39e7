import type { Worker } from "node:worker_threads";
import { startHelperWorker } from "./helper-workers.js";

/**
 * P-256 key pairs made ahead of demand on a worker thread. node:crypto has no asynchronous form of ECDH key
 * generation, so a server-generated P-256 key cost ~50 µs of the event loop per certificate (OpenSSL's key
 * generation plus its context set-up), an eighth of all the event loop did for one. Here a worker makes them
 * in batches and the event loop takes one in about a microsecond (measured: +15% server-generated EC
 * issuances per second on two cores).
 *
 * Each key is taken once and its bytes are zeroed by the taker once encoded. At most two batches (128 keys,
 * 12 KB) wait in memory, the same process memory that holds the CA keys and every key it issues anyway. When
 * the pool is empty (the first request, a burst, a failed worker) `takeP256` answers undefined and the
 * caller generates on the event loop as before, so the pool never makes an issuance wait.
 */

/** The raw key: the private scalar `d` (32 bytes, big-endian, left-padded) and the uncompressed point (65 bytes). */
export interface RawP256 {
  d: Buffer;
  point: Buffer;
  /** Zeroes both (they share one buffer). */
  wipe(): void;
}

const KEY_BYTES = 32 + 65;
const BATCH = 64;

const WORKER = `
const { parentPort } = require("node:worker_threads");
const { createECDH } = require("node:crypto");
parentPort.on("message", (n) => {
  const out = new Uint8Array(n * ${KEY_BYTES});
  for (let i = 0; i < n; i++) {
    const ecdh = createECDH("prime256v1");
    const point = ecdh.generateKeys();
    const d = ecdh.getPrivateKey();
    // OpenSSL drops leading zero octets of the scalar: pad it back to 32.
    out.set(d, i * ${KEY_BYTES} + 32 - d.length);
    out.set(point, i * ${KEY_BYTES} + 32);
    d.fill(0);
  }
  parentPort.postMessage(out, [out.buffer]);
});
`;

const ready: Buffer[] = [];
let worker: Worker | undefined;
let requested = false;

const refill = () => {
  if (requested) return;
  requested = true;
  if (!worker) {
    worker = startHelperWorker(WORKER, {
      message: (m) => {
        const batch = m as Uint8Array;
        requested = false;
        const all = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
        for (let i = 0; i < all.length; i += KEY_BYTES) ready.push(all.subarray(i, i + KEY_BYTES));
      },
      // Without a worker the callers generate on the event loop; the next take starts a new one.
      gone: () => { worker = undefined; requested = false; },
    });
  }
  worker.postMessage(BATCH);
};

/** A P-256 key made ahead, or undefined when none is ready (generate one yourself then). Asks for more as it runs low. */
export const takeP256 = (): RawP256 | undefined => {
  const k = ready.pop();
  if (ready.length < BATCH) refill();
  if (!k) return undefined;
  return { d: k.subarray(0, 32), point: k.subarray(32), wipe: () => void k.fill(0) };
};
