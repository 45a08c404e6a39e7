#!/usr/bin/env node
// Runs the benchmarks under bench/ one after another (they compete for the same two cores, so never in
// parallel). Each prints its own figures and ratios against a peer measured in the same run.
//   npm run bench                       every benchmark
//   npm run bench -- pki-vs-cfssl      only the named ones
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const all = readdirSync("bench").filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; available: ${all.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all) {
  console.log(`\n=== bench/${name}.ts ===`);
  const r = spawnSync(process.execPath, ["--import", "tsx", `bench/${name}.ts`], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
