import { BadRequestError } from "../errors.js";
import type { PlainSecret } from "./secret-codec.js";
import type { TagView } from "./secret-view.js";

export interface MetadataFilter { key?: string; value?: string }
const MAX_METADATA_FILTERS = 10;

/**
 * `metadataFilter=key=k1,value=v1|key=k2,value=v2` (api.md 4.2): every filter must match one unencrypted
 * metadata item of the secret. A filter may give only a key or only a value.
 */
export const parseMetadataFilter = (raw: string | undefined): MetadataFilter[] | undefined => {
  if (raw === undefined || raw.trim() === "") return undefined;
  const filters = raw.split("|").map((group) => {
    const f: MetadataFilter = {};
    for (const pair of group.split(",")) {
      const eq = pair.indexOf("=");
      const name = eq < 0 ? "" : pair.slice(0, eq).trim();
      if (name !== "key" && name !== "value")
        throw new BadRequestError(`metadataFilter: "${pair}" is not key=<key> or value=<value> (filters are 'key=k,value=v' joined by '|')`);
      f[name] = pair.slice(eq + 1).trim();
    }
    return f;
  });
  if (filters.length > MAX_METADATA_FILTERS) throw new BadRequestError(`metadataFilter: at most ${MAX_METADATA_FILTERS} filters`);
  return filters;
};

export const matchesMetadata = (s: PlainSecret, filters: MetadataFilter[]): boolean =>
  filters.every((f) => s.secretMetadata.some((m) => !m.isEncrypted && (f.key === undefined || m.key === f.key) && (f.value === undefined || m.value === f.value)));

/** `tagSlugs=a,b`: keep secrets carrying at least one of the tags. */
export const parseTagSlugs = (raw: string | undefined): string[] | undefined => {
  const slugs = raw?.split(",").map((s) => s.trim()).filter(Boolean);
  return slugs?.length ? slugs : undefined;
};

export const matchesTags = (s: PlainSecret, slugs: string[], tags: ReadonlyMap<string, TagView>): boolean =>
  s.tagIds.some((id) => {
    const t = tags.get(id);
    return !!t && slugs.includes(t.slug);
  });
