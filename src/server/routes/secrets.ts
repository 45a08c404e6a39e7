import { z } from "zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Actor } from "../../core/actor.js";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { etagOf } from "../etag.js";
import {
  BatchCreateBody, BatchDeleteBody, BatchUpdateBody, CreateBody, DeleteBody, GetQuery, ListQuery, projectRef, readFlags, SecretIdParams, SecretNameParams, UpdateBody,
} from "./secrets-schemas.js";

/**
 * Secrets over the v3 "raw" routes (SDK, CLI `secrets set/delete`: project by `workspaceId` or slug, all
 * read flags off by default) and the v4 routes (CLI agent: `projectId` required, references and imports
 * on by default). Both shapes answer the same objects (api.md 4.1-4.3).
 */
type Family = { base: string; batch: string; defaults: { expand: boolean; imports: boolean }; requireProjectId: boolean };
const FAMILIES: Family[] = [
  { base: "/api/v3/secrets/raw", batch: "/api/v3/secrets/batch/raw", defaults: { expand: false, imports: false }, requireProjectId: false },
  { base: "/api/v4/secrets", batch: "/api/v4/secrets/batch", defaults: { expand: true, imports: true }, requireProjectId: true },
];

// As in Infisical: v4 get-by-name and writes require projectId by schema (422); a list without project or
// environment is a 400 "Missing project id or environment" on both families.
const V4Required = z.object({ projectId: z.string().min(1) });

/**
 * The list service hands back the same answer object while its cache entry is valid; its bytes and ETag
 * are computed once per object, not per request (serialising and hashing 1,000 secrets cost more than the
 * rest of the request together). Entries go when the service drops the object.
 */
const serialized = new WeakMap<object, { body: Buffer; etag: string }>();
const sendJson = (reply: FastifyReply, value: object) => {
  let s = serialized.get(value);
  if (!s) {
    const body = Buffer.from(JSON.stringify(value));
    s = { body, etag: etagOf(body) };
    serialized.set(value, s);
  }
  return reply.header("etag", s.etag).type("application/json; charset=utf-8").send(s.body);
};

export const registerSecretRoutes = (r: Router, s: Services) => {
  for (const f of FAMILIES) {
    const query = <S extends z.ZodType>(schema: S, req: FastifyRequest, requireProjectId = f.requireProjectId) => {
      if (requireProjectId) parse(V4Required, req.query, "querystring");
      return parse(schema, req.query, "querystring");
    };
    const body = <S extends z.ZodType>(schema: S, req: FastifyRequest) => {
      if (f.requireProjectId) parse(V4Required, req.body, "body");
      return parse(schema, req.body, "body");
    };
    const name = (req: FastifyRequest) => parse(SecretNameParams, req.params, "params").secretName;

    r.authed("GET", f.base, async (req, reply, actor) => {
      const q = query(ListQuery, req, false);
      return sendJson(reply, await s.secrets.list(actor, {
        ...projectRef(q), environment: q.environment, path: q.secretPath, ...readFlags(q, f.defaults),
        recursive: q.recursive ?? false, tagSlugs: q.tagSlugs, metadataFilter: q.metadataFilter,
      }));
    });

    r.authed("GET", `${f.base}/id/:secretId`, async (req, _, actor) =>
      ({ secret: await s.secrets.getById(actor, parse(SecretIdParams, req.params, "params").secretId) }));

    r.authed("GET", `${f.base}/:secretName`, async (req, _, actor) => {
      const q = query(GetQuery, req);
      return {
        secret: await s.secrets.get(actor, {
          ...projectRef(q), environment: q.environment, path: q.secretPath, ...readFlags(q, f.defaults),
          secretName: name(req), type: q.type ?? "shared", version: q.version,
        }),
      };
    });

    const write = (method: "POST" | "PATCH" | "DELETE", run: (actor: Actor, req: FastifyRequest) => Promise<unknown>) =>
      r.authed(method, `${f.base}/:secretName`, async (req, _, actor) => ({ secret: await run(actor, req) }));

    write("POST", (actor, req) => {
      const b = body(CreateBody, req);
      return s.secrets.create(actor, { ...b, ...projectRef(b), path: b.secretPath, secretName: name(req), type: b.type ?? "shared" });
    });
    write("PATCH", (actor, req) => {
      const b = body(UpdateBody, req);
      return s.secrets.update(actor, { ...b, ...projectRef(b), path: b.secretPath, secretName: name(req), type: b.type ?? "shared" });
    });
    write("DELETE", (actor, req) => {
      const b = body(DeleteBody, req);
      return s.secrets.remove(actor, { ...projectRef(b), environment: b.environment, path: b.secretPath, secretName: name(req), type: b.type ?? "shared" });
    });

    // Many secrets of one environment, all or nothing (docs/secrets.md, "Batches"). On v4 the static
    // `/batch` wins over `/:secretName`, as in Infisical: a secret named `batch` is written by name on v3.
    r.authed("POST", f.batch, async (req, _, actor) => {
      const b = body(BatchCreateBody, req);
      return { secrets: await s.secrets.createMany(actor, { ...projectRef(b), environment: b.environment, path: b.secretPath, secrets: b.secrets }) };
    });
    r.authed("PATCH", f.batch, async (req, _, actor) => {
      const b = body(BatchUpdateBody, req);
      return { secrets: await s.secrets.updateMany(actor, { ...projectRef(b), environment: b.environment, path: b.secretPath, mode: b.mode, secrets: b.secrets }) };
    });
    r.authed("DELETE", f.batch, async (req, _, actor) => {
      const b = body(BatchDeleteBody, req);
      return { secrets: await s.secrets.removeMany(actor, { ...projectRef(b), environment: b.environment, path: b.secretPath, secrets: b.secrets }) };
    });
  }
};
