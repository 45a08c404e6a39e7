import { z } from "zod";
import type { Router } from "../route.js";
import type { Services } from "../services.js";
import { registerWorkloadAuthRoutes, tokenSettings } from "./auth-workload.js";

const Settings = z.object({
  kubernetesHost: z.string().min(1).nullable().optional(),
  caCert: z.string().optional(),
  tokenReviewerJwt: z.string().optional(),
  tokenReviewMode: z.enum(["api", "gateway"]).optional(),
  allowedNamespaces: z.string().optional(),
  allowedNames: z.string().optional(),
  allowedAudience: z.string().optional(),
  gatewayId: z.string().nullable().optional(),
  ...tokenSettings,
});
const Login = z.object({ identityId: z.string().min(1), jwt: z.string().min(1) });

export const registerKubernetesAuthRoutes = (r: Router, s: Services) =>
  registerWorkloadAuthRoutes(r, s, { slug: "kubernetes-auth", responseKey: "identityKubernetesAuth", kind: s.workloadKinds.kubernetes, settings: Settings, login: Login });
