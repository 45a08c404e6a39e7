import { createECDH, randomBytes } from "node:crypto";

/**
 * ECDSA on P-256 over a digest the caller already computed (isDigest=true). node:crypto always hashes what it
 * signs (with SHA-256 when given no algorithm), so a prehashed signature is assembled here: the secret-nonce
 * point k·G comes from OpenSSL (createECDH, constant-time), only the scalar arithmetic mod n is done with
 * BigInt. Verification uses public values only and runs entirely here. Signatures are DER (r, s), as
 * node:crypto and openssl produce them.
 */
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const G: Point = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

interface Point { x: bigint; y: bigint }

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const inv = (a: bigint, m: bigint): bigint => {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error("not invertible");
  return mod(s0, m);
};
export const toBigInt = (b: Buffer): bigint => (b.length ? BigInt(`0x${b.toString("hex")}`) : 0n);
const toBytes = (v: bigint, len: number): Buffer => Buffer.from(v.toString(16).padStart(len * 2, "0"), "hex");

// Verification works in Jacobian coordinates (X/Z², Y/Z³) so the ~256 doublings and additions need one field
// inversion at the end instead of one each: ~3 ms instead of ~30 ms of event-loop time per verification.
interface Jacobian { x: bigint; y: bigint; z: bigint }
const double = (p: Jacobian | null): Jacobian | null => {
  if (!p || p.y === 0n) return null;
  const delta = mod(p.z * p.z, P);
  const gamma = mod(p.y * p.y, P);
  const beta = mod(p.x * gamma, P);
  const alpha = mod(3n * (p.x - delta) * (p.x + delta), P); // a = -3
  const x = mod(alpha * alpha - 8n * beta, P);
  const z = mod((p.y + p.z) * (p.y + p.z) - gamma - delta, P);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, P);
  return { x, y, z };
};
const add = (p: Jacobian | null, q: Jacobian | null): Jacobian | null => {
  if (!p) return q;
  if (!q) return p;
  const z1z1 = mod(p.z * p.z, P);
  const z2z2 = mod(q.z * q.z, P);
  const u1 = mod(p.x * z2z2, P);
  const u2 = mod(q.x * z1z1, P);
  const s1 = mod(p.y * q.z * z2z2, P);
  const s2 = mod(q.y * p.z * z1z1, P);
  if (u1 === u2) return s1 === s2 ? double(p) : null;
  const h = mod(u2 - u1, P);
  const i = mod(4n * h * h, P);
  const j = mod(h * i, P);
  const r = mod(2n * (s2 - s1), P);
  const v = mod(u1 * i, P);
  const x = mod(r * r - j - 2n * v, P);
  const y = mod(r * (v - x) - 2n * s1 * j, P);
  const z = mod(((p.z + q.z) * (p.z + q.z) - z1z1 - z2z2) * h, P);
  return { x, y, z };
};
/** u1·G + u2·Q (Shamir's trick: one pass of doublings), as an affine x coordinate; null for the point at infinity. */
const combinedX = (u1: bigint, u2: bigint, q: Point): bigint | null => {
  const g: Jacobian = { ...G, z: 1n };
  const qj: Jacobian = { ...q, z: 1n };
  const gq = add(g, qj);
  let r: Jacobian | null = null;
  for (let i = BigInt(Math.max(u1.toString(2).length, u2.toString(2).length) - 1); i >= 0n; i--) {
    r = double(r);
    const b1 = (u1 >> i) & 1n;
    const b2 = (u2 >> i) & 1n;
    if (b1 && b2) r = add(r, gq);
    else if (b1) r = add(r, g);
    else if (b2) r = add(r, qj);
  }
  if (!r || r.z === 0n) return null;
  const zi = inv(r.z, P);
  return mod(r.x * zi * zi, P);
};

/** bits2int of FIPS 186-4: the leftmost 256 bits of the digest. */
const digestInt = (digest: Buffer) => toBigInt(digest.subarray(0, 32));

const derInt = (v: bigint) => {
  let b = toBytes(v, 32);
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
};
const derSignature = (r: bigint, s: bigint) => {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
};
/** (r, s) of a DER signature, or undefined if it is not exactly one. */
const parseDerSignature = (sig: Buffer): { r: bigint; s: bigint } | undefined => {
  if (sig.length < 8 || sig[0] !== 0x30 || sig[1] !== sig.length - 2) return undefined;
  const ints: bigint[] = [];
  let at = 2;
  for (let i = 0; i < 2; i++) {
    if (sig[at] !== 0x02) return undefined;
    const len = sig[at + 1]!;
    if (len === 0 || len > 33 || at + 2 + len > sig.length) return undefined;
    ints.push(toBigInt(sig.subarray(at + 2, at + 2 + len)));
    at += 2 + len;
  }
  return at === sig.length ? { r: ints[0]!, s: ints[1]! } : undefined;
};

/** `d`: the private scalar (32 bytes). */
export const signDigestP256 = (d: Buffer, digest: Buffer): Buffer => {
  const x = toBigInt(d);
  const e = digestInt(digest);
  const ecdh = createECDH("prime256v1");
  for (;;) {
    const k = toBigInt(randomBytes(32));
    if (k === 0n || k >= N) continue;
    ecdh.setPrivateKey(toBytes(k, 32));
    const r = mod(toBigInt(ecdh.getPublicKey().subarray(1, 33)), N);
    if (r === 0n) continue;
    // k is inverted blinded (times a random b), so the inversion's timing says nothing about the nonce: a
    // few leaked nonce bits per signature are enough to recover the key from many signatures.
    const b = mod(toBigInt(randomBytes(32)), N - 1n) + 1n;
    const s = mod(inv(mod(k * b, N), N) * mod(b * mod(e + r * x, N), N), N);
    if (s === 0n) continue;
    return derSignature(r, s);
  }
};

/** `x`, `y`: the public point's coordinates (32 bytes each). */
export const verifyDigestP256 = (pub: { x: Buffer; y: Buffer }, digest: Buffer, signature: Buffer): boolean => {
  const rs = parseDerSignature(signature);
  if (!rs || rs.r <= 0n || rs.r >= N || rs.s <= 0n || rs.s >= N) return false;
  const w = inv(rs.s, N);
  const q = { x: toBigInt(pub.x), y: toBigInt(pub.y) };
  const x = combinedX(mod(digestInt(digest) * w, N), mod(rs.r * w, N), q);
  return x !== null && mod(x, N) === rs.r;
};
