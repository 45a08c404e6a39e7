import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pgLib from "pg";
import { createSecretEventsClient } from "../../src/client/secret-events.js";
import type { ServerSentEvent } from "../../src/client/secret-events.js";
import { login, startServer } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { authYaml, makeFixture, setSecret, spawnAgent, until, writeConfig } from "./secrets-agent-harness.js";
import type { Fixture } from "./secrets-agent-harness.js";

/**
 * Two server processes on one PostgreSQL database: a change stream opened on one sees the secret changes
 * committed through the other (LISTEN/NOTIFY relay, store/channels.ts), each exactly once; and when one
 * server's LISTEN connection is lost, its streams are told to resync once it listens again.
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
  // Named, so that the test can find (and kill) server a's LISTEN connection among the others.
  a = await startServer({ databaseUrl: `${pg.url}?application_name=kms_a`, env });
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

/** A stream kept open in the background, its events collected as they come. */
const openStream = async (server: TestServer, lastEventId?: string) => {
  const c = createSecretEventsClient({ address: server.address });
  const abort = new AbortController();
  const it = await c.open({ projectId: f.projectId, environment: "dev", secretPath: "/", recursive: true }, { token, lastEventId, signal: abort.signal });
  const events: ServerSentEvent[] = [];
  const done = (async () => {
    try {
      for await (const ev of it as AsyncIterable<ServerSentEvent>) events.push(ev);
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    }
  })();
  return {
    events,
    kinds: () => events.map((e) => (e.event === "change" ? `change ${JSON.parse(e.data).secretKey}` : e.event)),
    close: async () => {
      abort.abort();
      await done;
      await c.close();
    },
  };
};

test("server a's LISTEN connection killed, a change made through b while a is deaf: a's open streams get `resync` once a listens again, and its agent re-renders", async (t) => {
  if (!a || !b || !pg) return t.skip("PostgreSQL missing (see above)");
  const db = pg.name;
  const admin = new pgLib.Client({ connectionString: pg.url });
  await admin.connect();
  // The test's own listener: proof that b's NOTIFY was sent, and when.
  const observer = new pgLib.Client({ connectionString: pg.url });
  await observer.connect();
  await observer.query("LISTEN kms_secret_changes");
  const notified: string[] = [];
  observer.on("notification", (n) => void notified.push(n.payload ?? ""));
  const aListens = async () =>
    (await admin.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'kms_a' AND query LIKE 'LISTEN%'", [db])).rows.map((r) => r.pid as number);

  await setSecret(a, f.projectId, "GAP", "g-1");
  // An agent on a that polls every 5 minutes: within this test only a pushed notice makes it render again.
  const dest = join(f.dir, "gap.out");
  const agent = spawnAgent(["--config", writeConfig(f, `kms:
  address: ${a.address}
${authYaml(f)}templates:
  - template-content: '{{ with getSecretByName "${f.projectId}" "dev" "/" "GAP" }}{{ .Value }}{{ end }}'
    destination-path: ${dest}
    config:
      polling-interval: 5m
`, "gap.yaml")]);
  const read = () => (existsSync(dest) ? readFileSync(dest, "utf8") : undefined);
  const stream = await openStream(a);
  try {
    await agent.waitFor(/change stream connected/, 10_000);
    await until(() => read() === "g-1", 5_000, "the agent's first render");
    await until(() => stream.events.some((e) => e.event === "ready"), 5_000, "the test's stream ready");
    const readyId = stream.events.find((e) => e.event === "ready")!.id!;

    const [pid] = await aListens();
    assert.ok(pid, "server a listens on a connection of its own");
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await until(async () => (await aListens()).length === 0, 5_000, "a's listening backend gone");

    // a listens again 1 s after noticing the loss; this change and its NOTIFY take a few milliseconds.
    await setSecret(viaB(), f.projectId, "GAP", "g-2");
    await until(() => notified.some((m) => m.includes('"GAP"')), 5_000, "b's NOTIFY of the change");
    assert.deepEqual(await aListens(), [], "b's NOTIFY was sent while a was not listening: a cannot have heard it");

    await until(() => stream.events.some((e) => e.event === "resync"), 8_000, "resync on a's open stream");
    assert.deepEqual(stream.kinds(), ["ready", "resync"], "the change made in the gap never reached a; the resync says so");
    assert.equal((await aListens()).length, 1, "a listens again");
    const resyncId = stream.events.find((e) => e.event === "resync")!.id!;
    assert.ok(Number(resyncId.split("-").pop()) > Number(readyId.split("-").pop()), `the resync's id ${resyncId} follows ${readyId}`);

    // The agent re-read on the resync, long before its 5-minute poll.
    await until(() => read() === "g-2", 3_000, "the agent re-rendered on the resync");

    // Relaying works again, and a client that was away during the resync is told on reconnect.
    await setSecret(viaB(), f.projectId, "GAP", "g-3");
    await until(() => stream.kinds().includes("change GAP"), 5_000, "a change through b after the resume reaches a's stream");
    await until(() => read() === "g-3", 3_000, "and the agent");
    const away = await openStream(a, readyId);
    try {
      await until(() => away.events.some((e) => e.event === "ready"), 5_000, "the reconnected stream ready");
      assert.equal(away.events[0]?.event, "resync", `a reconnect from before the gap starts with resync: ${away.kinds().join(",")}`);
    } finally {
      await away.close();
    }
    assert.match(a.output(), /channel kms_secret_changes: .*listening again shortly/, "the loss was logged as a warning");
    assert.match(a.output(), /channel kms_secret_changes: listening again; messages sent since \S+ \(or a little earlier\) were missed/, "and so was its end");
  } finally {
    await stream.close();
    await agent.stop();
    await observer.end();
    await admin.end();
  }
});
