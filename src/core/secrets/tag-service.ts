import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { newId, SLUG } from "../ids.js";
import { isoNow } from "../time.js";
import type { AuditService } from "../audit/audit-service.js";
import type { ProjectAccess } from "../projects/access.js";
import { isUniqueViolation, type SecretStore } from "../../store/secrets.js";
import type { TagTable } from "../../store/schema.js";

export interface TagDTO { slug?: string; name?: string; color?: string | null }

type Deps = {
  access: Pick<ProjectAccess, "requireProject">;
  store: Pick<SecretStore, "listTags" | "getTag" | "getTagBySlug" | "createTag" | "updateTag" | "deleteTag">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
};

const view = (t: TagTable) => ({ id: t.id, projectId: t.project_id, slug: t.slug, name: t.name, color: t.color, createdAt: t.created_at, updatedAt: t.updated_at });

/** Project tags (api.md 4.7). Members manage them, viewers read them. */
export const tagServiceFactory = ({ access, store, audit, clock }: Deps) => {
  const checkSlug = (slug: string) => {
    if (!SLUG.test(slug) || slug.length > 64) throw new BadRequestError(`slug: "${slug}" must be up to 64 characters of a-z, 0-9 and dashes`);
  };
  const duplicate = (slug: string) => new BadRequestError(`A tag with slug '${slug}' already exists in this project`);
  const find = async (projectId: string, tagId: string) => {
    const t = await store.getTag(projectId, tagId);
    if (!t) throw new NotFoundError(`Tag with ID ${tagId} not found`);
    return t;
  };

  const create = async (actor: Actor, projectId: string, dto: TagDTO & { slug: string }) => {
    await access.requireProject(actor, projectId, "member");
    checkSlug(dto.slug);
    if (await store.getTagBySlug(projectId, dto.slug)) throw duplicate(dto.slug);
    const now = isoNow(clock);
    const t: TagTable = { id: newId(), project_id: projectId, slug: dto.slug, name: dto.name ?? dto.slug, color: dto.color ?? null, created_at: now, updated_at: now };
    try {
      await store.createTag(t);
    } catch (e) {
      if (isUniqueViolation(e)) throw duplicate(dto.slug);
      throw e;
    }
    await audit.record(actor, { action: "create-tag", resourceType: "tag", resourceId: t.id, projectId, metadata: { slug: t.slug } });
    return view(t);
  };

  const list = async (actor: Actor, projectId: string) => {
    await access.requireProject(actor, projectId, "viewer");
    return (await store.listTags(projectId)).map(view);
  };

  const get = async (actor: Actor, projectId: string, ref: { id?: string; slug?: string }) => {
    await access.requireProject(actor, projectId, "viewer");
    if (ref.id) return view(await find(projectId, ref.id));
    const t = await store.getTagBySlug(projectId, ref.slug ?? "");
    if (!t) throw new NotFoundError(`Tag with slug '${ref.slug}' not found`);
    return view(t);
  };

  const update = async (actor: Actor, projectId: string, tagId: string, dto: TagDTO) => {
    await access.requireProject(actor, projectId, "member");
    const t = await find(projectId, tagId);
    if (dto.slug !== undefined && dto.slug !== t.slug) {
      checkSlug(dto.slug);
      if (await store.getTagBySlug(projectId, dto.slug)) throw duplicate(dto.slug);
    }
    const patch: Partial<TagTable> = {
      updated_at: isoNow(clock),
      ...(dto.slug !== undefined && { slug: dto.slug }), ...(dto.name !== undefined && { name: dto.name }), ...(dto.color !== undefined && { color: dto.color }),
    };
    try {
      await store.updateTag(projectId, tagId, patch);
    } catch (e) {
      if (isUniqueViolation(e)) throw duplicate(dto.slug ?? t.slug);
      throw e;
    }
    await audit.record(actor, { action: "update-tag", resourceType: "tag", resourceId: tagId, projectId });
    return view({ ...t, ...patch });
  };

  const remove = async (actor: Actor, projectId: string, tagId: string) => {
    await access.requireProject(actor, projectId, "member");
    const t = await find(projectId, tagId);
    await store.deleteTag(projectId, tagId);
    await audit.record(actor, { action: "delete-tag", resourceType: "tag", resourceId: tagId, projectId, metadata: { slug: t.slug } });
    return view(t);
  };

  return { create, list, get, update, remove };
};
export type TagService = ReturnType<typeof tagServiceFactory>;
