import { z } from "zod";
import { KEY_ALGORITHMS, KEY_USAGES, MAX_PAYLOAD_BYTES, SIGNING_ALGORITHMS } from "../../core/kms-keys/algorithms.js";
import { BASE64 } from "../../core/kms-keys/ciphertext.js";
import { SLUG } from "../../core/ids.js";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

// api.md 6: names are slugs of 1..32 characters; ids are UUIDs (a malformed one is a 422, not a 404).
const Name = z.string().min(1).max(32).regex(SLUG, "must be a slug: lower-case letters, digits and single dashes");
const Description = z.string().max(500);
const KeyParams = z.object({ keyId: z.uuid() });
const base64 = z.string().regex(BASE64, "must be base64");
/** A base64 payload of at most 4096 bytes once decoded, as bytes. */
const Payload = base64
  .refine((s) => Buffer.byteLength(s, "base64") <= MAX_PAYLOAD_BYTES, `must decode to at most ${MAX_PAYLOAD_BYTES} bytes`)
  .transform((s) => Buffer.from(s, "base64"));
const bool = z.boolean().optional().default(false);
// Query numbers arrive as strings; anything but digits is a 422.
const count = (def: number, max?: number) =>
  z.string().regex(/^\d+$/, "must be a non-negative integer").transform(Number)
    .pipe(max === undefined ? z.number().int() : z.number().int().max(max)).optional().default(def);

const CreateBody = z.object({
  projectId: z.string().min(1),
  name: Name,
  description: Description.optional(),
  keyUsage: z.enum(KEY_USAGES).optional(),
  encryptionAlgorithm: z.enum(KEY_ALGORITHMS).optional(),
});
const UpdateBody = z.object({ name: Name.optional(), description: Description.optional(), isDisabled: z.boolean().optional() });
const ProjectQuery = z.object({ projectId: z.string().min(1) });
const ListQuery = z.object({
  projectId: z.string().min(1),
  offset: count(0),
  limit: count(100, 100).pipe(z.number().min(1)),
  orderBy: z.enum(["name"]).optional().default("name"),
  orderDirection: z.enum(["asc", "desc"]).optional().default("asc"),
  search: z.string().max(64).optional(),
});
const NameParams = z.object({ keyName: z.string().min(1) });
const EncryptBody = z.object({ plaintext: Payload });
const DecryptBody = z.object({ ciphertext: z.string().min(1) });
const SignBody = z.object({ signingAlgorithm: z.enum(SIGNING_ALGORITHMS as [string, ...string[]]), data: Payload, isDigest: bool });
const VerifyBody = SignBody.extend({ signature: base64.transform((s) => Buffer.from(s, "base64")) });

type SigningAlgorithm = Parameters<Services["kmsKeys"]["sign"]>[2]["signingAlgorithm"];

/** api.md 6.2. Every handler parses, calls one service function and shapes the reply. */
export const registerKmsKeyRoutes = (r: Router, s: Services) => {
  const keys = s.kmsKeys;
  const keyId = (req: { params: unknown }) => parse(KeyParams, req.params, "params").keyId;

  r.authed("POST", "/api/v1/kms/keys", async (req, _, actor) => ({ key: await keys.create(actor, parse(CreateBody, req.body, "body")) }));
  r.authed("GET", "/api/v1/kms/keys", async (req, _, actor) => {
    const { projectId, orderBy: _orderBy, ...q } = parse(ListQuery, req.query, "querystring");
    return keys.list(actor, projectId, q);
  });
  r.authed("GET", "/api/v1/kms/keys/key-name/:keyName", async (req, _, actor) => {
    const { projectId } = parse(ProjectQuery, req.query, "querystring");
    return { key: await keys.getByName(actor, projectId, parse(NameParams, req.params, "params").keyName) };
  });
  r.authed("GET", "/api/v1/kms/keys/:keyId", async (req, _, actor) => ({ key: await keys.get(actor, keyId(req)) }));
  r.authed("PATCH", "/api/v1/kms/keys/:keyId", async (req, _, actor) => {
    const id = keyId(req);
    return { key: await keys.update(actor, id, parse(UpdateBody, req.body, "body")) };
  });
  r.authed("DELETE", "/api/v1/kms/keys/:keyId", async (req, _, actor) => ({ key: await keys.remove(actor, keyId(req)) }));

  r.authed("POST", "/api/v1/kms/keys/:keyId/encrypt", async (req, _, actor) => {
    const id = keyId(req);
    return { ciphertext: await keys.encrypt(actor, id, parse(EncryptBody, req.body, "body").plaintext) };
  });
  r.authed("POST", "/api/v1/kms/keys/:keyId/decrypt", async (req, _, actor) => {
    const id = keyId(req);
    return { plaintext: await keys.decrypt(actor, id, parse(DecryptBody, req.body, "body").ciphertext) };
  });
  r.authed("POST", "/api/v1/kms/keys/:keyId/sign", async (req, _, actor) => {
    const id = keyId(req);
    const b = parse(SignBody, req.body, "body");
    return keys.sign(actor, id, { ...b, signingAlgorithm: b.signingAlgorithm as SigningAlgorithm });
  });
  r.authed("POST", "/api/v1/kms/keys/:keyId/verify", async (req, _, actor) => {
    const id = keyId(req);
    const b = parse(VerifyBody, req.body, "body");
    return keys.verify(actor, id, { ...b, signingAlgorithm: b.signingAlgorithm as SigningAlgorithm });
  });
  r.authed("GET", "/api/v1/kms/keys/:keyId/public-key", async (req, _, actor) => ({ publicKey: await keys.publicKey(actor, keyId(req)) }));
  r.authed("GET", "/api/v1/kms/keys/:keyId/signing-algorithms", async (req, _, actor) => ({ signingAlgorithms: await keys.signingAlgorithms(actor, keyId(req)) }));

  // Optional extras of current Infisical (api.md 6.2, end).
  r.authed("POST", "/api/v1/kms/keys/:keyId/rotate", async (req, _, actor) => ({ key: await keys.rotate(actor, keyId(req)) }));
  r.authed("GET", "/api/v1/kms/keys/:keyId/versions", async (req, _, actor) => ({ versions: await keys.versions(actor, keyId(req)) }));
};
