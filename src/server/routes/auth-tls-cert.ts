import { z } from "zod";
import { parse, type Router } from "../route.js";
import type { Services } from "../services.js";
import { peerCertificate } from "./auth-service-key.js";
import { registerWorkloadAuthRoutes, requestInfo, tokenSettings } from "./auth-workload.js";

/** Login with the client certificate presented over mTLS (our own method; needs --tls-request-client-cert). */

const Settings = z.object({ projectId: z.string().min(1).optional(), allowedNames: z.string().optional(), ...tokenSettings });
const Login = z.object({ identityId: z.string().min(1) });

export const registerTlsCertAuthRoutes = (r: Router, s: Services) => {
  registerWorkloadAuthRoutes(r, s, { slug: "tls-cert-auth", responseKey: "identityTlsCertAuth", kind: s.tlsCert.kind, settings: Settings });
  r.open("POST", "/api/v1/auth/tls-cert-auth/login", async (req) =>
    s.tlsCert.login(parse(Login, req.body, "body").identityId, peerCertificate(req), requestInfo(req)));
};
