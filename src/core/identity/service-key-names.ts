/**
 * The names a service identity certificate carries (seed 004, zts-svccert style), in one place so `kms svccert`
 * builds exactly what the server will accept:
 *   DNS SAN  <identity>.<project>.<dns-domain>
 *   URI SAN  spiffe://<trust-domain>/ns/<project>/sa/<identity>
 *   CN       the DNS name
 * `<identity>` is the identity's id or its name (when the name is a DNS label); `<project>` is the project slug.
 */

export interface ServiceNameParts { identity: string; project: string; dnsDomain: string; trustDomain?: string }
export interface ServiceNames { commonName: string; dnsName: string; spiffeUri: string }

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export const isDnsLabel = (s: string): boolean => LABEL.test(s);
export const isDnsDomain = (s: string): boolean => DOMAIN.test(s);

/** Throws with the part named when a piece cannot be part of a DNS name. */
export const serviceNames = (p: ServiceNameParts): ServiceNames => {
  const identity = p.identity.toLowerCase();
  const project = p.project.toLowerCase();
  const dnsDomain = p.dnsDomain.toLowerCase().replace(/\.+$/, "");
  const trustDomain = (p.trustDomain ?? dnsDomain).toLowerCase();
  if (!isDnsLabel(identity)) throw new Error(`identity "${p.identity}" is not a DNS label (lower-case letters, digits and dashes); use the identity id`);
  if (!isDnsLabel(project)) throw new Error(`project "${p.project}" is not a DNS label`);
  if (!isDnsDomain(dnsDomain)) throw new Error(`dns domain "${p.dnsDomain}" is not a DNS domain`);
  if (!isDnsDomain(trustDomain)) throw new Error(`trust domain "${trustDomain}" is not a DNS domain`);
  const dnsName = `${identity}.${project}.${dnsDomain}`;
  return { commonName: dnsName, dnsName, spiffeUri: `spiffe://${trustDomain}/ns/${project}/sa/${identity}` };
};

/** The audience a service JWT is minted for: the server's public URL, normalised as clients write it. */
export const normalizeAudience = (url: string): string => {
  let a = url.trim().replace(/\/+$/, "");
  if (a.endsWith("/api")) a = a.slice(0, -4);
  return a.toLowerCase();
};

/** A service JWT lives at most this long (exp - iat); its jti is remembered until it expires. */
export const SERVICE_JWT_MAX_LIFETIME_S = 600;
