import { z } from "zod";

/** Where an agent talks to when its configuration names no address (the seeds' default). */
export const DEFAULT_ADDRESS = "https://app.kms.hanzo.ai";

/** `kms.address` in both agents' configurations: an http(s) URL. */
export const kmsAddressSchema = z
  .string()
  .trim()
  .refine((s) => {
    try {
      return ["http:", "https:"].includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, "must be an http(s) URL such as https://kms.example.com");
