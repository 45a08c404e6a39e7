import { z } from "zod";
import type { Router } from "../route.js";
import type { Services } from "../services.js";
import { registerWorkloadAuthRoutes, tokenSettings } from "./auth-workload.js";

const Settings = z.object({
  type: z.enum(["iam", "gce"]).optional(),
  allowedServiceAccounts: z.string().optional(),
  allowedProjects: z.string().optional(),
  allowedZones: z.string().optional(),
  // Overrides of Google's key endpoints (tests, private mirrors); defaults are Google's.
  jwksUrl: z.string().min(1).optional(),
  serviceAccountKeysUrl: z.string().min(1).optional(),
  ...tokenSettings,
});
const Login = z.object({ identityId: z.string().min(1), jwt: z.string().min(1) });

export const registerGcpAuthRoutes = (r: Router, s: Services) =>
  registerWorkloadAuthRoutes(r, s, { slug: "gcp-auth", responseKey: "identityGcpAuth", kind: s.workloadKinds.gcp, settings: Settings, login: Login });
