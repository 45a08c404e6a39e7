#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild: our TypeScript compiled ahead of time, one chunk per command
// (the dynamic imports of src/cli/main.ts), packages left to node_modules. bin/kms.js runs dist/ when it is
// newer than every source file, and the sources through tsx otherwise, so an edit never runs stale code.
import { build } from "esbuild";
import { rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: { kms: "src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  sourcemap: true,
  outExtension: { ".js": ".mjs" },
  logLevel: "warning",
});
