import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

const BootstrapBody = z.object({
  email: z.string().trim().email(),
  password: z.string().min(1),
  organization: z.string().trim().min(1),
});

export const registerAdminRoutes = (r: Router, s: Services) => {
  r.open("POST", "/api/v1/admin/bootstrap", async (req) =>
    s.bootstrap.bootstrap(parse(BootstrapBody, req.body, "body"), { ip: req.ip, userAgent: req.headers["user-agent"] }));
  r.open("GET", "/api/v1/admin/config", async () => ({ config: { initialized: await s.bootstrap.isBootstrapped(), allowSignUp: false } }));
};
