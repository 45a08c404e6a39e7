import { z } from "zod";
import type { Router } from "../route.js";
import type { Services } from "../services.js";
import { seconds } from "../schemas.js";
import { registerWorkloadAuthRoutes, tokenSettings } from "./auth-workload.js";

const Settings = z.object({
  stsEndpoint: z.string().min(1).optional(),
  allowedPrincipalArns: z.string().optional(),
  allowedAccountIds: z.string().optional(),
  ...tokenSettings,
  // api.md 2.6: min 1 for AWS.
  accessTokenMaxTTL: seconds.min(1).optional(),
});
const Login = z.object({
  identityId: z.string().min(1),
  iamHttpRequestMethod: z.string().default("POST"),
  iamRequestBody: z.string().min(1),
  iamRequestHeaders: z.string().min(1),
});

export const registerAwsAuthRoutes = (r: Router, s: Services) =>
  registerWorkloadAuthRoutes(r, s, { slug: "aws-auth", responseKey: "identityAwsAuth", kind: s.workloadKinds.aws, settings: Settings, login: Login });
