import type { FuncMap } from "../../template/funcs.js";
import { goFunc } from "../../template/value.js";
import { requireArgs } from "./functions.js";
import type { RenderContext } from "./functions.js";

/**
 * `dynamic_secret` / `dynamicSecret` "<project-slug>" "<env>" "<path>" "<name>" ["<ttl>" ["<principals>"]]:
 * a dynamic-secret lease's credentials as a map (`{{ .DB_USERNAME }}`). Leases are shared, renewed and
 * rotated by agent/secrets/leases.ts; the template only reads them.
 */
export const dynamicSecretFunctions = (current: () => RenderContext): FuncMap => {
  const fn = goFunc({ in: ["string"], variadic: true, out: "map[string]interface {}", err: true }, async (...args: string[]) => {
    if (args.length < 4 || args.length > 6) {
      throw new Error(`takes 4 to 6 arguments (project slug, environment, path, name[, ttl[, principals]]), got ${args.length}`);
    }
    requireArgs(args, ["project slug", "environment slug", undefined, "dynamic secret name"]);
    const ctx = current();
    if (!ctx.leases) throw new Error("dynamic secrets are not available here (a preview does not create leases)");
    const [projectSlug, environment, secretPath, name, ttl = "", principals = ""] = args as [string, string, string, string, string?, string?];
    ctx.usedLeases.add(name);
    const data = await ctx.leases.acquire({ projectSlug, environment, secretPath, name, ttl, principals }, ctx.owner ?? "", ctx.signal);
    for (const v of Object.values(data)) if (typeof v === "string") ctx.fetched.add(v);
    return data;
  });
  return { dynamic_secret: fn, dynamicSecret: fn };
};
