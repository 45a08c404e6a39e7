import type { Router } from "../route.js";
import type { Services } from "../services.js";

export const registerStatusRoutes = (r: Router, s: Services) => {
  r.open("GET", "/api/status", async () => ({ status: "ok", date: new Date(s.clock.now()).toISOString(), message: "Ok" }));
};
