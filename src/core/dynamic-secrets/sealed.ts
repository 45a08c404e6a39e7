import type { ProjectKeys } from "../projects/project-keys.js";
import type { DynamicSecretLeaseTable, DynamicSecretTable } from "../../store/schema.js";
import type { DynamicSecretProvider } from "./provider.js";
import { isProviderType, type ProviderRegistry } from "./providers/index.js";
import { BadRequestError } from "../errors.js";

// The purpose binds each ciphertext to its row: inputs copied into another dynamic secret do not decrypt.
const inputsPurpose = (id: string) => `dynamic-secret:${id}:inputs`;
const leasePurpose = (id: string) => `dynamic-secret-lease:${id}:data`;

type Deps = { keys: Pick<ProjectKeys, "encrypt" | "decryptText">; providers: ProviderRegistry };

/**
 * Provider inputs (hosts, admin passwords) and lease credentials are stored only sealed with the project's
 * data key; this is the one place that seals and opens them.
 */
export const sealedFactory = ({ keys, providers }: Deps) => {
  /**
   * The registry is keyed by type, but a row's type is a string: the cast is safe because a row's inputs
   * were produced by the same provider's schema when it was saved.
   */
  const providerFor = (type: string): DynamicSecretProvider<unknown> => {
    if (!isProviderType(providers, type)) throw new BadRequestError(`Dynamic secret provider type "${type}" is not supported by this server`);
    return providers[type] as DynamicSecretProvider<unknown>;
  };

  const sealInputs = (projectId: string, id: string, inputs: unknown) => keys.encrypt(projectId, JSON.stringify(inputs), inputsPurpose(id));
  const openInputs = async (row: DynamicSecretTable): Promise<Record<string, unknown>> =>
    JSON.parse(await keys.decryptText(row.project_id, row.encrypted_inputs, inputsPurpose(row.id))) as Record<string, unknown>;

  const sealLeaseData = (projectId: string, leaseId: string, data: Record<string, string>) => keys.encrypt(projectId, JSON.stringify(data), leasePurpose(leaseId));
  const openLeaseData = async (lease: DynamicSecretLeaseTable): Promise<Record<string, string>> =>
    JSON.parse(await keys.decryptText(lease.project_id, lease.encrypted_data, leasePurpose(lease.id))) as Record<string, string>;

  /** The provider and its typed inputs for a stored dynamic secret. */
  const open = async (row: DynamicSecretTable) => {
    const provider = providerFor(row.type);
    return { provider, inputs: provider.inputs.parse(await openInputs(row)) };
  };

  return { providerFor, sealInputs, openInputs, sealLeaseData, openLeaseData, open };
};
export type Sealed = ReturnType<typeof sealedFactory>;
