/**
 * Serial numbers: 20 random octets (RFC 5280 4.1.2.2 caps serials at 20 octets; CA/B Forum wants ≥ 64 random
 * bits), positive and always exactly 20 octets in DER: the top bit is cleared (else DER needs a 0x00 pad and
 * 21 octets) and the first octet is never 0 (else DER drops it). Randomness comes from a pooled CSPRNG buffer:
 * one randomFillSync per 204 serials instead of one syscall-backed call each.
 */
import { randomFillSync } from "node:crypto";

const POOL_SIZE = 4080;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

export const SERIAL_LENGTH = 20;

/** A fresh serial's magnitude (20 octets, 0x01..0x7f first). The caller owns the returned buffer. */
export const randomSerial = (): Buffer => {
  if (offset + SERIAL_LENGTH > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const s = Buffer.from(pool.subarray(offset, offset + SERIAL_LENGTH));
  pool.fill(0, offset, offset + SERIAL_LENGTH); // a used serial never lingers in the pool
  offset += SERIAL_LENGTH;
  s[0] &= 0x7f;
  if (s[0] === 0) s[0] = 0x01 + (s[1] & 0x3f);
  return s;
};
