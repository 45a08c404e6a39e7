import { Command } from "commander";
import { caCommand } from "./pki/ca.js";
import { certCommand } from "./pki/cert.js";
import { policyCommand } from "./pki/policy.js";
import { profileCommand } from "./pki/profile.js";
import { usageExitCodes } from "./pki/common.js";

/**
 * `kms pki`: administration of CAs, policies, profiles and certificates over the HTTP API (api.md 7).
 * Wiring only; each noun lives in src/cli/pki/<noun>.ts. Every command takes --address (KMS_ADDRESS),
 * --token (KMS_TOKEN) and --output text|json; exit 1 when the server refuses, 2 on a usage error.
 */
export const pkiCommand = (): Command =>
  usageExitCodes(
    new Command("pki")
      .description("administer the PKI over the HTTP API: CAs, policies, profiles, certificates")
      .addCommand(caCommand())
      .addCommand(policyCommand())
      .addCommand(profileCommand())
      .addCommand(certCommand()),
  );
