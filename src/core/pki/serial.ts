/**
 * Serial numbers: 20 random octets (RFC 5280 4.1.2.2 caps serials at 20 octets; CA/B Forum wants ≥ 64 random
 * bits), positive and always exactly 20 octets in DER: the top bit is cleared (else DER needs a 0x00 pad and
 * 21 octets) and the first octet is never 0 (else DER drops it). Randomness comes from the pooled CSPRNG
 * buffer (crypto/random-pool.ts).
 */
import { pooledRandomBytes } from "../../crypto/random-pool.js";

export const SERIAL_LENGTH = 20;

/** A fresh serial's magnitude (20 octets, 0x01..0x7f first). The caller owns the returned buffer. */
export const randomSerial = (): Buffer => {
  const s = pooledRandomBytes(SERIAL_LENGTH);
  s[0] &= 0x7f;
  if (s[0] === 0) s[0] = 0x01 + (s[1] & 0x3f);
  return s;
};
