/** Who is asking: an authenticated machine identity (the only kind of caller this server serves). */
export interface Actor {
  identityId: string;
  orgId: string;
  /** Organization role: `admin` can do everything in the organization. */
  orgRole: string;
  tokenId: string;
  ip: string;
  userAgent?: string;
}

/** Where an unauthenticated request came from, for trusted-IP checks and the audit log. */
export interface RequestInfo { ip: string; userAgent?: string }
