import { connect } from "node:net";
import type { TestContext } from "node:test";

/**
 * PostgreSQL, MariaDB and Redis run on 127.0.0.1 at their standard ports on the project's machines.
 * Where one is missing a test that needs it is skipped LOUDLY; with KMS_REQUIRE_SERVICES=1 (CI) it fails instead.
 */
export const SERVICES = { postgres: 5432, mariadb: 3306, redis: 6379 } as const;

const reachable = (port: number) =>
  new Promise<boolean>((res) => {
    const s = connect({ host: "127.0.0.1", port, timeout: 1000 });
    s.once("connect", () => { s.destroy(); res(true); });
    s.once("error", () => res(false));
    s.once("timeout", () => { s.destroy(); res(false); });
  });

/** Returns true when the service is there; otherwise skips (or fails under KMS_REQUIRE_SERVICES=1). */
export const needService = async (t: TestContext, name: keyof typeof SERVICES): Promise<boolean> => {
  if (await reachable(SERVICES[name])) return true;
  const reason = `${name} is not reachable at 127.0.0.1:${SERVICES[name]}`;
  if (process.env.KMS_REQUIRE_SERVICES === "1") throw new Error(`${reason}, and KMS_REQUIRE_SERVICES=1 forbids skipping`);
  process.stderr.write(`\n!!! SKIPPED: ${reason}: the tests that need it did not run !!!\n\n`);
  t.skip(`SKIPPED LOUDLY: ${reason}`);
  return false;
};
