import { randomBytes } from "node:crypto";
import { open, seal, type RootKeyring } from "../../crypto/envelope.js";
import { NotFoundError } from "../errors.js";
import type { ProjectStore } from "../../store/projects.js";

type Deps = { root: RootKeyring; store: Pick<ProjectStore, "get"> };

/** Per-project data keys, wrapped by the root key. Unwrapped keys are cached for the life of the process. */
export const projectKeysFactory = ({ root, store }: Deps) => {
  const cache = new Map<string, Buffer>();
  const newWrappedKey = (projectId: string) => root.wrapDataKey(randomBytes(32), projectId);
  const dataKey = async (projectId: string): Promise<Buffer> => {
    const hit = cache.get(projectId);
    if (hit) return hit;
    const p = await store.get(projectId);
    if (!p) throw new NotFoundError(`Project with ID ${projectId} not found`);
    const key = root.unwrapDataKey(p.encrypted_data_key, projectId);
    cache.set(projectId, key);
    return key;
  };
  /** `purpose` binds the ciphertext to where it is stored (e.g. `secret:<id>:value`). */
  const encrypt = async (projectId: string, plaintext: string | Buffer, purpose: string) => seal(await dataKey(projectId), plaintext, purpose);
  const decrypt = async (projectId: string, sealed: string, purpose: string) => open(await dataKey(projectId), sealed, purpose);
  const decryptText = async (projectId: string, sealed: string, purpose: string) => (await decrypt(projectId, sealed, purpose)).toString("utf8");
  return { newWrappedKey, encrypt, decrypt, decryptText };
};
export type ProjectKeys = ReturnType<typeof projectKeysFactory>;
