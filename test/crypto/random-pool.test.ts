import { test } from "node:test";
import assert from "node:assert/strict";
import { pooledRandomBytes } from "../../src/crypto/random-pool.js";

test("pooled random bytes: the size asked for, never the same twice across pool refills, owned by the caller", () => {
  const seen = new Set<string>();
  // 3,000 IVs of 12 bytes cross the 4 KiB pool's refill several times.
  for (let i = 0; i < 3_000; i++) {
    const b = pooledRandomBytes(12);
    assert.equal(b.length, 12);
    const hex = b.toString("hex");
    assert.ok(!seen.has(hex), `value ${i} repeated`);
    seen.add(hex);
    // The caller's buffer is a copy: writing it cannot touch the pool.
    b.fill(0xff);
  }
  // Roughly uniform: every byte value shows up over 36,000 bytes.
  const counts = new Array(256).fill(0);
  for (const hex of seen) for (const byte of Buffer.from(hex, "hex")) counts[byte]++;
  assert.ok(counts.every((c) => c > 60), "every byte value occurs");
  assert.equal(pooledRandomBytes(256).length, 256);
});

test("sizes outside 1..256 are refused", () => {
  for (const n of [0, -1, 257, 1.5, Number.NaN]) assert.throws(() => pooledRandomBytes(n), RangeError, String(n));
});
