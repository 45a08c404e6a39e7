import { z } from "zod";
import type { Clock } from "../../../clock.js";
import type { DnsProvider } from "./provider.js";
import { Rfc2136Config, createRfc2136Provider } from "./rfc2136.js";

/** Every DNS provider's settings, told apart by `type`; secrets travel separately (sealed in the database). */
export const DnsProviderConfig = z.discriminatedUnion("type", [Rfc2136Config]);
export type DnsProviderConfig = z.infer<typeof DnsProviderConfig>;
export interface DnsSecrets { tsigSecret?: string }

type DnsProviderFactories = {
  [K in DnsProviderConfig["type"]]: (cfg: Extract<DnsProviderConfig, { type: K }>, secrets: DnsSecrets, deps: { clock: Clock }) => DnsProvider;
};
/** A typed registry (STYLE.md rule 7): a new member of the union without its factory fails the build. */
export const dnsProviderFactories: DnsProviderFactories = { rfc2136: createRfc2136Provider };

export const createDnsProvider = (cfg: DnsProviderConfig, secrets: DnsSecrets, deps: { clock: Clock }): DnsProvider =>
  dnsProviderFactories[cfg.type](cfg as never, secrets, deps);
