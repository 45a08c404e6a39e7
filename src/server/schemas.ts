import { z } from "zod";

/** Boolean query parameters are the strings "true"/"false", case-insensitively (api.md 0.1). */
export const qbool = z
  .string()
  .refine((s) => /^(true|false)$/i.test(s), { message: 'expected "true" or "false"' })
  .transform((s) => s.toLowerCase() === "true");

export const uuid = z.string().uuid();
export const id = z.string().min(1);
export const nonNegInt = z.number().int().min(0);
export const seconds = z.number().int().min(0).max(315_360_000);
export const trustedIps = z.array(z.object({ ipAddress: z.string().min(1) })).min(1);
