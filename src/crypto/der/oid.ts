/** OBJECT IDENTIFIER content octets (X.690 8.19): first two arcs folded into one, base-128 big-endian arcs. */
export const encodeOid = (dotted: string): Buffer => {
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new RangeError(`invalid OID ${JSON.stringify(dotted)}`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0] > 2n || (arcs[0] < 2n && arcs[1] > 39n)) throw new RangeError(`invalid OID ${JSON.stringify(dotted)}`);
  const out: number[] = [];
  const push = (v: bigint): void => {
    const tmp = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) tmp.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...tmp);
  };
  push(arcs[0] * 40n + arcs[1]);
  for (let i = 2; i < arcs.length; i++) push(arcs[i]);
  return Buffer.from(out);
};

export const decodeOid = (content: Uint8Array): string => {
  if (content.length === 0 || content[content.length - 1] & 0x80) throw new RangeError("malformed OID");
  const fast = decodeOidSmallArcs(content);
  if (fast !== undefined) return fast;
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < content.length; i++) {
    if (v === 0n && content[i] === 0x80) throw new RangeError("malformed OID (non-minimal arc)");
    v = (v << 7n) | BigInt(content[i] & 0x7f);
    if (!(content[i] & 0x80)) {
      if (arcs.length === 0) {
        const first = v < 40n ? 0n : v < 80n ? 1n : 2n;
        arcs.push(first, v - first * 40n);
      } else arcs.push(v);
      v = 0n;
    }
  }
  return arcs.join(".");
};

/**
 * Every OID on the hot path (algorithms, extensions, attribute types) has arcs far below 2^31: decode those
 * with plain numbers (BigInt made CSR and SPKI parsing several µs slower); undefined hands over to BigInt.
 */
const decodeOidSmallArcs = (content: Uint8Array): string | undefined => {
  let out = "";
  let v = 0;
  let first = true;
  for (let i = 0; i < content.length; i++) {
    const b = content[i];
    if (v === 0 && b === 0x80) throw new RangeError("malformed OID (non-minimal arc)");
    if (v > 0xffffff) return undefined;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (first) {
        const a = v < 40 ? 0 : v < 80 ? 1 : 2;
        out = `${a}.${v - a * 40}`;
        first = false;
      } else out += `.${v}`;
      v = 0;
    }
  }
  return out;
};
