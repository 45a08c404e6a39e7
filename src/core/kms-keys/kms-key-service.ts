import type { Actor } from "../actor.js";
import type { AuditService } from "../audit/audit-service.js";
import type { Clock } from "../clock.js";
import { BadRequestError, NotFoundError, ValidationError } from "../errors.js";
import { newId } from "../ids.js";
import type { ProjectAccess, ProjectRole } from "../projects/access.js";
import type { ProjectKeys } from "../projects/project-keys.js";
import { isoNow } from "../time.js";
import type { KmsKeyListQuery, KmsKeyStore } from "../../store/kms-keys.js";
import { isUniqueViolation } from "../../store/secrets.js";
import type { KmsKeyTable } from "../../store/schema.js";
import {
  ALGORITHMS_OF, HASH_LENGTH, isAsymmetric, SIGNING_ALGORITHMS_OF, SIGNING_SCHEMES,
  type KeyAlgorithm, type KeyUsage, type SigningAlgorithm,
} from "./algorithms.js";
import { decodeCiphertext, decryptPayload, encryptPayload, versionOf } from "./ciphertext.js";
import { generateKeyMaterial, privateKeyOf, publicKeyOf } from "./key-material.js";
import { signWith, verifyWith } from "./signing.js";
import { kmsKeyView } from "./views.js";

export interface CreateKmsKeyDTO { projectId: string; name: string; description?: string; keyUsage?: KeyUsage; encryptionAlgorithm?: KeyAlgorithm }
export interface UpdateKmsKeyDTO { name?: string; description?: string; isDisabled?: boolean }
export interface SignDTO { signingAlgorithm: SigningAlgorithm; data: Buffer; isDigest: boolean }

type Deps = {
  store: KmsKeyStore;
  access: Pick<ProjectAccess, "requireProject">;
  keys: Pick<ProjectKeys, "encrypt" | "decrypt">;
  audit: Pick<AuditService, "record">;
  clock: Clock;
};

// The purpose binds sealed material to its key and version: material copied into another row does not open.
const materialPurpose = (keyId: string, version: number) => `kms-key:${keyId}:v${version}:material`;

/**
 * Customer-managed keys (api.md 6). Roles: `viewer` reads keys, public keys and verifies signatures; `member`
 * also encrypts, decrypts and signs; `admin` creates, changes, rotates and deletes keys. Key material is only
 * ever stored sealed with the project's data key and never leaves, except a sign-verify key's public key.
 */
export const kmsKeyServiceFactory = ({ store, access, keys, audit, clock }: Deps) => {
  /** The key with `id`, if the actor holds `min` in its project; 404 for a key in another organization. */
  const load = async (actor: Actor, id: string, min: ProjectRole): Promise<KmsKeyTable> => {
    const key = await store.get(id);
    if (!key || key.org_id !== actor.orgId) throw new NotFoundError(`KMS key with ID ${id} not found`);
    await access.requireProject(actor, key.project_id, min);
    return key;
  };
  const requireUsage = (key: KmsKeyTable, usage: KeyUsage, what: string) => {
    if (key.key_usage !== usage) throw new BadRequestError(`KMS key '${key.name}' is a ${key.key_usage} key: ${what} needs a ${usage} key`);
  };
  const requireEnabled = (key: KmsKeyTable) => {
    if (key.is_disabled) throw new BadRequestError(`KMS key '${key.name}' is disabled`);
  };
  const material = async (key: KmsKeyTable, version: number) => {
    const row = await store.getVersion(key.id, version);
    if (!row) throw new BadRequestError(`ciphertext: version ${version} of KMS key '${key.name}' does not exist`);
    return { secret: await keys.decrypt(key.project_id, row.encrypted_material, materialPurpose(key.id, version)), publicKey: row.public_key };
  };
  const record = (actor: Actor, action: string, key: KmsKeyTable, metadata: Record<string, unknown> = {}) =>
    audit.record(actor, { action, resourceType: "kms-key", resourceId: key.id, projectId: key.project_id, metadata: { name: key.name, ...metadata } });
  const sealVersion = async (key: Pick<KmsKeyTable, "id" | "project_id" | "algorithm">, version: number) => {
    const m = await generateKeyMaterial(key.algorithm as KeyAlgorithm);
    return {
      kms_key_id: key.id, version, created_at: isoNow(clock),
      encrypted_material: await keys.encrypt(key.project_id, m.secret, materialPurpose(key.id, version)),
      public_key: m.publicKey ? m.publicKey.toString("base64") : null,
    };
  };

  const create = async (actor: Actor, dto: CreateKmsKeyDTO) => {
    const project = await access.requireProject(actor, dto.projectId, "admin");
    const keyUsage = dto.keyUsage ?? "encrypt-decrypt";
    const algorithm = dto.encryptionAlgorithm ?? "aes-256-gcm";
    if (!ALGORITHMS_OF[keyUsage].includes(algorithm)) {
      const message = `encryptionAlgorithm: ${algorithm} cannot be used for ${keyUsage} keys (allowed: ${ALGORITHMS_OF[keyUsage].join(", ")})`;
      throw new ValidationError(message, [{ code: "custom", path: ["body", "encryptionAlgorithm"], message }]);
    }
    if (await store.getByName(project.id, dto.name)) throw new BadRequestError(`A KMS key with the name '${dto.name}' already exists in project ${project.id}`);
    const now = isoNow(clock);
    const key: KmsKeyTable = {
      id: newId(), org_id: project.org_id, project_id: project.id, name: dto.name, description: dto.description ?? "", is_disabled: 0,
      key_usage: keyUsage, algorithm, version: 1, created_at: now, updated_at: now,
    };
    const version = await sealVersion(key, 1);
    // A concurrent create of the same name may have won since the check above.
    if (await store.getByName(project.id, dto.name)) throw new BadRequestError(`A KMS key with the name '${dto.name}' already exists in project ${project.id}`);
    await store.insert(key, version).catch((e: unknown) => {
      if (isUniqueViolation(e)) throw new BadRequestError(`A KMS key with the name '${dto.name}' already exists in project ${project.id}`);
      throw e;
    });
    await record(actor, "create-kms-key", key, { keyUsage, encryptionAlgorithm: algorithm });
    return kmsKeyView(key);
  };

  const get = async (actor: Actor, id: string) => kmsKeyView(await load(actor, id, "viewer"));

  const getByName = async (actor: Actor, projectId: string, name: string) => {
    await access.requireProject(actor, projectId, "viewer");
    const key = await store.getByName(projectId, name);
    if (!key) throw new NotFoundError(`KMS key with name '${name}' not found in project ${projectId}`);
    return kmsKeyView(key);
  };

  const list = async (actor: Actor, projectId: string, q: KmsKeyListQuery) => {
    await access.requireProject(actor, projectId, "viewer");
    const { rows, totalCount } = await store.list(projectId, q);
    return { keys: rows.map(kmsKeyView), totalCount };
  };

  const update = async (actor: Actor, id: string, dto: UpdateKmsKeyDTO) => {
    const key = await load(actor, id, "admin");
    if (dto.name !== undefined && dto.name !== key.name) {
      if (await store.getByName(key.project_id, dto.name)) throw new BadRequestError(`A KMS key with the name '${dto.name}' already exists in project ${key.project_id}`);
    }
    const patch = {
      ...(dto.name !== undefined && { name: dto.name }),
      ...(dto.description !== undefined && { description: dto.description }),
      ...(dto.isDisabled !== undefined && { is_disabled: (dto.isDisabled ? 1 : 0) as 0 | 1 }),
      updated_at: isoNow(clock),
    };
    await store.update(id, patch).catch((e: unknown) => {
      if (isUniqueViolation(e)) throw new BadRequestError(`A KMS key with the name '${dto.name}' already exists in project ${key.project_id}`);
      throw e;
    });
    const updated = { ...key, ...patch };
    await record(actor, "update-kms-key", updated, { ...(patch.name && { previousName: key.name }), ...(dto.isDisabled !== undefined && { isDisabled: dto.isDisabled }) });
    return kmsKeyView(updated);
  };

  const remove = async (actor: Actor, id: string) => {
    const key = await load(actor, id, "admin");
    await store.delete(id);
    await record(actor, "delete-kms-key", key);
    return kmsKeyView(key);
  };

  /** A new version of the key's material; ciphertext of older versions keeps decrypting. */
  const rotate = async (actor: Actor, id: string) => {
    const key = await load(actor, id, "admin");
    const version = await sealVersion(key, key.version + 1);
    if (!(await store.rotate(version, version.created_at))) throw new BadRequestError(`KMS key '${key.name}' was rotated by another request at the same time; retry`);
    const rotated = { ...key, version: version.version, updated_at: version.created_at };
    await record(actor, "rotate-kms-key", rotated, { version: version.version });
    return kmsKeyView(rotated);
  };

  const versions = async (actor: Actor, id: string) => {
    const key = await load(actor, id, "viewer");
    return (await store.listVersions(key.id)).map((v) => ({ version: v.version, createdAt: v.created_at }));
  };

  const encrypt = async (actor: Actor, id: string, plaintext: Buffer) => {
    const key = await load(actor, id, "member");
    requireUsage(key, "encrypt-decrypt", "encryption");
    requireEnabled(key);
    const { secret } = await material(key, key.version);
    const ciphertext = encryptPayload(key.id, key.version, secret, plaintext).toString("base64");
    await record(actor, "kms-key-encrypt", key, { version: key.version });
    return ciphertext;
  };

  const decrypt = async (actor: Actor, id: string, ciphertext: string) => {
    const key = await load(actor, id, "member");
    requireUsage(key, "encrypt-decrypt", "decryption");
    requireEnabled(key);
    const raw = decodeCiphertext(ciphertext);
    const version = versionOf(raw);
    if (version > key.version) throw new BadRequestError("ciphertext: not a ciphertext of this key (corrupt, tampered with, or made by another key)");
    const { secret } = await material(key, version);
    const plaintext = decryptPayload(key.id, secret, raw).toString("base64");
    await record(actor, "kms-key-decrypt", key, { version });
    return plaintext;
  };

  const signingKey = (key: KmsKeyTable, algorithm: SigningAlgorithm, data: Buffer, isDigest: boolean) => {
    requireUsage(key, "sign-verify", "signing");
    requireEnabled(key);
    if (!isAsymmetric(key.algorithm) || !SIGNING_ALGORITHMS_OF[key.algorithm].includes(algorithm))
      throw new BadRequestError(`signingAlgorithm: ${algorithm} cannot be used with ${key.algorithm} key '${key.name}' (allowed: ${isAsymmetric(key.algorithm) ? SIGNING_ALGORITHMS_OF[key.algorithm].join(", ") : "none"})`);
    const hash = SIGNING_SCHEMES[algorithm].hash;
    if (isDigest && data.length !== HASH_LENGTH[hash])
      throw new BadRequestError(`data: with isDigest=true, data must be a ${hash.toUpperCase()} digest of ${HASH_LENGTH[hash]} bytes, got ${data.length}`);
  };

  const sign = async (actor: Actor, id: string, dto: SignDTO) => {
    const key = await load(actor, id, "member");
    signingKey(key, dto.signingAlgorithm, dto.data, dto.isDigest);
    const { secret } = await material(key, key.version);
    const signature = await signWith(privateKeyOf(secret), dto.signingAlgorithm, dto.data, dto.isDigest);
    await record(actor, "kms-key-sign", key, { signingAlgorithm: dto.signingAlgorithm, isDigest: dto.isDigest, version: key.version });
    return { signature: signature.toString("base64"), keyId: key.id, signingAlgorithm: dto.signingAlgorithm };
  };

  /**
   * Checked against every version's public key, newest first: a signature made before a rotation stays valid
   * (signatures do not name their version). The audit event records the version that matched.
   */
  const verify = async (actor: Actor, id: string, dto: SignDTO & { signature: Buffer }) => {
    const key = await load(actor, id, "viewer");
    signingKey(key, dto.signingAlgorithm, dto.data, dto.isDigest);
    let matched: number | undefined;
    for (const v of await store.listPublicKeys(key.id)) {
      if (await verifyWith(publicKeyOf(Buffer.from(v.public_key!, "base64")), dto.signingAlgorithm, dto.data, dto.signature, dto.isDigest)) { matched = v.version; break; }
    }
    const signatureValid = matched !== undefined;
    await record(actor, "kms-key-verify", key, { signingAlgorithm: dto.signingAlgorithm, isDigest: dto.isDigest, signatureValid, ...(signatureValid ? { version: matched } : {}) });
    return { signatureValid, keyId: key.id, signingAlgorithm: dto.signingAlgorithm };
  };

  const publicKey = async (actor: Actor, id: string) => {
    const key = await load(actor, id, "viewer");
    requireUsage(key, "sign-verify", "a public key");
    return (await store.getVersion(key.id, key.version))!.public_key!;
  };

  const signingAlgorithms = async (actor: Actor, id: string) => {
    const key = await load(actor, id, "viewer");
    requireUsage(key, "sign-verify", "signing algorithms");
    return [...SIGNING_ALGORITHMS_OF[key.algorithm as keyof typeof SIGNING_ALGORITHMS_OF]];
  };

  return { create, get, getByName, list, update, remove, rotate, versions, encrypt, decrypt, sign, verify, publicKey, signingAlgorithms };
};
export type KmsKeyService = ReturnType<typeof kmsKeyServiceFactory>;
