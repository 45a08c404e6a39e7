import { randomUUID } from "node:crypto";

export const newId = (): string => randomUUID();

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. For rows written in bulk
 * (issued certificates, their requests, audit events): ids that grow with time append to the primary-key
 * index instead of landing on a random page of it, so each commit rewrites a few pages, not one per row.
 * Never use it where an id must not reveal when it was made.
 */
export const newTimeOrderedId = (now = Date.now()): string => {
  const u = randomUUID();
  const t = now.toString(16).padStart(12, "0");
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${u.slice(15)}`;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID.test(s);

/** Slugs as Infisical defines them: lower-case letters, digits and dashes. */
export const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export const slugify = (name: string): string =>
  name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 28) || "project";
