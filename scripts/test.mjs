#!/usr/bin/env node
// Runs every test file under test/ with node:test through tsx. Arguments narrow the run:
//   npm test -- test/template        (a folder)    npm test -- test/store/db.test.ts   (a file)
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ["test"];
const files = [];
const walk = (p) => {
  if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  else if (p.endsWith(".test.ts")) files.push(p);
};
for (const r of roots) walk(r);
if (files.length === 0) {
  console.error("no test files found under", roots.join(" "));
  process.exit(1);
}
// NODE_NO_WARNINGS is for the runner and tsx; the kms processes the tests start turn warnings back on
// (test/helpers/server.ts, kms-process.ts), since a warning there is one a user would see.
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=300000", ...files],
  { stdio: "inherit", env: { ...process.env, NODE_NO_WARNINGS: "1" } },
);
process.exit(r.status ?? 1);
