import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./server.js";

/**
 * The node flags a systemd unit in contrib/ runs `kms` with (`ExecStart=/usr/bin/env node FLAGS… /usr/bin/kms …`),
 * so the benchmark and the end-to-end tests run an agent the way the unit does (e.g. --jitless: no
 * WebAssembly) and cannot drift from it.
 */
export const unitNodeFlags = (unit: string): string[] => {
  const text = readFileSync(join(REPO, "contrib", unit), "utf8");
  const m = /^ExecStart=.*?\bnode((?:\s+--\S+)*)\s+\S*\bkms\s/m.exec(text);
  if (!m) throw new Error(`contrib/${unit}: ExecStart does not run kms through node`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
};
