import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

// The Go SDK sends "" for ttl and path it leaves unset (api.md 8 item 10): "" is absent.
const optional = z.preprocess((v) => (v === "" || v === null ? undefined : v), z.string().optional());
const required = z.string().trim().min(1);
const folder = { projectSlug: required, environmentSlug: required, path: optional };
const Metadata = z.array(z.object({ key: z.string().trim().min(1), value: z.string() }));
// "" or null maxTTL both mean unlimited.
const maxTTL = z.preprocess((v) => (v === "" ? null : v), z.string().nullable().optional());
const isForced = z.boolean().optional().default(false);

const CreateBody = z.object({
  ...folder,
  name: required,
  provider: z.object({ type: required, inputs: z.record(z.string(), z.unknown()) }),
  defaultTTL: required,
  maxTTL,
  metadata: Metadata.optional(),
  usernameTemplate: z.string().max(255).nullable().optional(),
});
const UpdateBody = z.object({
  ...folder,
  data: z.object({
    inputs: z.record(z.string(), z.unknown()).optional(),
    defaultTTL: optional,
    maxTTL,
    newName: optional,
    metadata: Metadata.optional(),
    usernameTemplate: z.string().max(255).nullable().optional(),
  }),
});
const DeleteBody = z.object({ ...folder, isForced });
// The CLI agent names the folder `secretPath` (api.md 8 item 1); `path` wins when both are sent.
const FolderQuery = z.object({ ...folder, secretPath: optional }).transform(({ secretPath, ...q }) => ({ ...q, path: q.path ?? secretPath }));
const NameParams = z.object({ name: required });
const LeaseParams = z.object({ leaseId: required });
const CreateLeaseBody = z.object({ ...folder, dynamicSecretName: required, ttl: optional, config: z.unknown().optional() });
const RenewBody = z.object({ ...folder, ttl: optional });

/** api.md 5.3 and 5.4. Every handler parses, calls one service function and shapes the reply. */
export const registerDynamicSecretRoutes = (r: Router, s: Services) => {
  const ds = s.dynamicSecrets.secrets;
  const leases = s.dynamicSecrets.leases;
  const name = (req: { params: unknown }) => parse(NameParams, req.params, "params").name;
  const leaseId = (req: { params: unknown }) => parse(LeaseParams, req.params, "params").leaseId;

  r.authed("POST", "/api/v1/dynamic-secrets", async (req, _, actor) => ({ dynamicSecret: await ds.create(actor, parse(CreateBody, req.body, "body")) }));
  r.authed("GET", "/api/v1/dynamic-secrets", async (req, _, actor) => ({ dynamicSecrets: await ds.list(actor, parse(FolderQuery, req.query, "querystring")) }));
  r.authed("GET", "/api/v1/dynamic-secrets/:name", async (req, _, actor) => ({ dynamicSecret: await ds.get(actor, parse(FolderQuery, req.query, "querystring"), name(req)) }));
  r.authed("PATCH", "/api/v1/dynamic-secrets/:name", async (req, _, actor) => {
    const b = parse(UpdateBody, req.body, "body");
    return { dynamicSecret: await ds.update(actor, b, name(req), b.data) };
  });
  r.authed("DELETE", "/api/v1/dynamic-secrets/:name", async (req, _, actor) => {
    const b = parse(DeleteBody, req.body, "body");
    return { dynamicSecret: await ds.remove(actor, b, name(req), b.isForced) };
  });
  r.authed("GET", "/api/v1/dynamic-secrets/:name/leases", async (req, _, actor) => ({ leases: await ds.listLeases(actor, parse(FolderQuery, req.query, "querystring"), name(req)) }));

  r.authed("POST", "/api/v1/dynamic-secrets/leases", async (req, _, actor) => leases.create(actor, parse(CreateLeaseBody, req.body, "body")));
  r.authed("GET", "/api/v1/dynamic-secrets/leases/:leaseId", async (req, _, actor) => leases.get(actor, leaseId(req), parse(FolderQuery, req.query, "querystring")));
  r.authed("POST", "/api/v1/dynamic-secrets/leases/:leaseId/renew", async (req, _, actor) => {
    const b = parse(RenewBody, req.body, "body");
    return leases.renew(actor, leaseId(req), b, b.ttl);
  });
  r.authed("DELETE", "/api/v1/dynamic-secrets/leases/:leaseId", async (req, _, actor) => {
    const b = parse(DeleteBody, req.body, "body");
    return leases.revoke(actor, leaseId(req), b, b.isForced);
  });
};
