import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";

const Login = z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1) });
const TokenBody = z.object({ accessToken: z.string().min(1) });

export const registerAuthRoutes = (r: Router, s: Services) => {
  const info = (req: { ip: string; headers: Record<string, unknown> }) => ({ ip: req.ip, userAgent: req.headers["user-agent"] as string | undefined });
  r.open("POST", "/api/v1/auth/universal-auth/login", async (req) => {
    const b = parse(Login, req.body, "body");
    return s.universalAuth.login(b.clientId, b.clientSecret, info(req));
  });
  r.open("POST", "/api/v1/auth/token/renew", async (req) => s.tokens.renew(parse(TokenBody, req.body, "body").accessToken, info(req)));
  r.open("POST", "/api/v1/auth/token/revoke", async (req) => {
    await s.tokens.revoke(parse(TokenBody, req.body, "body").accessToken, info(req));
    return { message: "Successfully revoked access token" };
  });
};
