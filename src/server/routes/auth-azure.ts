import { z } from "zod";
import type { Router } from "../route.js";
import type { Services } from "../services.js";
import { registerWorkloadAuthRoutes, tokenSettings } from "./auth-workload.js";

const Settings = z.object({
  tenantId: z.string().min(1).optional(),
  resource: z.string().min(1).optional(),
  allowedServicePrincipalIds: z.string().optional(),
  // Override of the tenant's Entra key set (tests, sovereign clouds); default login.microsoftonline.com.
  jwksUrl: z.string().min(1).optional(),
  ...tokenSettings,
});
const Login = z.object({ identityId: z.string().min(1), jwt: z.string().min(1) });

export const registerAzureAuthRoutes = (r: Router, s: Services) =>
  registerWorkloadAuthRoutes(r, s, { slug: "azure-auth", responseKey: "identityAzureAuth", kind: s.workloadKinds.azure, settings: Settings, login: Login });
