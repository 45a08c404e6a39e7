/**
 * Who may enroll over EST (RFC 7030 3.2.3, 3.3.2), per profile:
 * 1. a TLS client certificate this profile issued, still active: the client re-enrolls with its current
 *    certificate (no passphrase needed);
 * 2. otherwise HTTP basic with the profile's passphrase (any user name); when the profile has a `caChain` and
 *    `disableBootstrapCaValidation` is false, the client must ALSO present a TLS certificate that chains to
 *    that caChain (a manufacturer's bootstrap certificate, Infisical's model).
 * The passphrase is stored as a salted scrypt hash and compared in constant time.
 */
import { X509Certificate, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { UnauthorizedError } from "../errors.js";
import { fromPemAll } from "../../crypto/der/pem.js";

const scryptAsync = promisify(scrypt) as (p: string, s: Buffer, n: number) => Promise<Buffer>;

/** The password of an `Authorization: Basic` header (RFC 7617), or undefined when there is none. */
export const basicPassword = (header: string | undefined): string | undefined => {
  const m = header && /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = text.indexOf(":");
  return colon === -1 ? undefined : text.slice(colon + 1);
};

/** Checks a passphrase against `scrypt.<salt>.<key>` (crypto/hash.ts hashPassword) in constant time. */
export const passphraseMatches = async (passphrase: string, stored: string): Promise<boolean> => {
  const [scheme, salt, key] = stored.split(".");
  if (scheme !== "scrypt" || !salt || !key) return false;
  const expected = Buffer.from(key, "base64");
  const actual = await scryptAsync(passphrase, Buffer.from(salt, "base64"), expected.length);
  return timingSafeEqual(actual, expected);
};

const validAt = (c: X509Certificate, now: number) => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);

/**
 * Whether the presented chain (leaf first) leads to one of the anchors (PEM text): each step is issued by
 * and signed with the next certificate's key, every certificate is within its validity, at most 5 steps.
 */
export const chainsTo = (presented: readonly Buffer[], anchorsPem: string, now: number): boolean => {
  if (!presented.length) return false;
  let certs: X509Certificate[];
  let anchors: X509Certificate[];
  try {
    certs = presented.map((d) => new X509Certificate(d));
    anchors = fromPemAll(anchorsPem).filter((b) => b.label === "CERTIFICATE").map((b) => new X509Certificate(b.der));
  } catch {
    return false;
  }
  const pool = [...certs.slice(1), ...anchors];
  let current = certs[0]!;
  for (let depth = 0; depth < 5; depth++) {
    if (!validAt(current, now)) return false;
    if (anchors.some((a) => a.raw.equals(current.raw))) return true;
    const issuer = pool.find((c) => current.checkIssued(c) && current.verify(c.publicKey) && !c.raw.equals(current.raw));
    if (!issuer) return false;
    if (anchors.some((a) => a.raw.equals(issuer.raw))) return validAt(issuer, now);
    current = issuer;
  }
  return false;
};

/** RFC 7030 3.2.3: a 401 names the scheme so curl and EST clients know to send credentials. */
export class EstUnauthorizedError extends UnauthorizedError {}
export const EST_REALM = 'Basic realm="kms-est", charset="UTF-8"';

/** A few wrong passphrases per minute per address are typos; more is guessing, and each costs an scrypt. */
export const failureThrottle = (now: () => number, limit = 20, windowMs = 60_000) => {
  const seen = new Map<string, { start: number; n: number }>();
  return {
    blocked: (ip: string) => { const w = seen.get(ip); return !!w && now() - w.start < windowMs && w.n >= limit; },
    fail: (ip: string) => {
      const w = seen.get(ip);
      if (!w || now() - w.start >= windowMs) seen.set(ip, { start: now(), n: 1 });
      else w.n++;
      if (seen.size > 10_000) seen.clear();
    },
  };
};

export const unauthorized = (why: string) => new EstUnauthorizedError(why);
