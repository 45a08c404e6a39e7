import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** A fresh PostgreSQL database for one test file, dropped afterwards. */
export const createPgDatabase = (): { url: string; name: string; drop(): void } => {
  const name = `kms_test_${randomBytes(6).toString("hex")}`;
  const psql = (sql: string) => execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql], { stdio: "pipe" });
  psql(`CREATE DATABASE ${name}`);
  return {
    name,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
};
