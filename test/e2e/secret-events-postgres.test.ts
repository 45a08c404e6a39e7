import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { createSecretEventsClient } from "../../src/client/secret-events.js";
import type { ServerSentEvent } from "../../src/client/secret-events.js";
import { login, startServer } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { makeFixture, setSecret } from "./secrets-agent-harness.js";
import type { Fixture } from "./secrets-agent-harness.js";

/**
 * Two server processes on one PostgreSQL database: a change stream opened on one sees the secret changes
 * committed through the other (LISTEN/NOTIFY relay, store/channels.ts), each exactly once.
 */

let pg: ReturnType<typeof createPgDatabase> | undefined;
let a: TestServer | undefined;
let b: TestServer | undefined;
let f: Fixture;
let token: string;

before(async (t) => {
  if (!(await needService(t as never, "postgres"))) return;
  pg = createPgDatabase();
  const env = { KMS_ENCRYPTION_KEY: randomBytes(32).toString("base64") };
  a = await startServer({ databaseUrl: pg.url, env });
  b = await startServer({ databaseUrl: pg.url, env, bootstrap: false });
  f = await makeFixture(a, "relay-proj");
  token = await login(a.address, readFileSync(f.clientIdFile, "utf8").trim(), readFileSync(f.clientSecretFile, "utf8").trim());
});
after(async () => {
  await a?.cleanup();
  await b?.cleanup();
  pg?.drop();
});

/** Server b with a's administrator token (b was not bootstrapped: the token lives in the shared database). */
const viaB = () => ({ address: b!.address, adminToken: a!.adminToken }) as TestServer;

/** Opens a stream on `server`, runs `action` once it is ready, and collects change events until `done`. */
const changesOn = async (server: TestServer, action: () => Promise<void>, done: (n: number) => boolean, ms = 8_000) => {
  const c = createSecretEventsClient({ address: server.address });
  const abort = new AbortController();
  const it = await c.open({ projectId: f.projectId, environment: "dev", secretPath: "/", recursive: true }, { token, signal: abort.signal });
  const changes: Record<string, string>[] = [];
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    for await (const ev of it as AsyncIterable<ServerSentEvent>) {
      if (ev.event === "ready") await action();
      if (ev.event === "change") changes.push(JSON.parse(ev.data));
      if (done(changes.length)) break;
    }
  } catch (e) {
    // aborted at the time limit: the caller checks what arrived
    if (!abort.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
    abort.abort();
    await c.close();
  }
  return changes;
};

test("a stream on one server sees changes committed through another server on the same database, each once", async (t) => {
  if (!a || !b) return t.skip("PostgreSQL missing (see above)");
  const seen = await changesOn(b, async () => {
    await setSecret(a!, f.projectId, "FROM_A", "1");
    await setSecret(viaB(), f.projectId, "FROM_B", "2");
    await setSecret(a!, f.projectId, "FROM_A", "3");
  }, (n) => n >= 4, 4_000);
  // Waited past the three expected: a fourth (a duplicate of our own, relayed back) would have shown.
  assert.deepEqual(seen.map((c) => [c.secretKey, c.action]), [["FROM_A", "created"], ["FROM_B", "created"], ["FROM_A", "updated"]]);
  assert.ok(seen.every((c) => c.projectId === f.projectId && c.environment === "dev" && c.secretPath === "/"));
  assert.ok(!JSON.stringify(seen).includes('"1"') && !JSON.stringify(seen).includes("secretValue"), "no values travel");
});

test("and the other way round", async (t) => {
  if (!a || !b) return t.skip("PostgreSQL missing (see above)");
  const seen = await changesOn(a, () => setSecret(viaB(), f.projectId, "ONLY_B", "x"), (n) => n >= 1);
  assert.deepEqual(seen.map((c) => [c.secretKey, c.action]), [["ONLY_B", "created"]]);
});
