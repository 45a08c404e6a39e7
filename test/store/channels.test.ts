import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { connect, createServer as createNetServer, type AddressInfo } from "node:net";
import pg from "pg";
import { postgresChannel, type Channel, type ChannelOptions } from "../../src/store/channels.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";
import { until } from "../e2e/secrets-agent-harness.js";

/**
 * postgresChannel on a real PostgreSQL: when its LISTEN connection is lost it reports the loss, listens
 * again, and says through onResumed that it was deaf, because what was sent in between never reaches it.
 */

let db: ReturnType<typeof createPgDatabase> | undefined;
let admin: pg.Client | undefined;
const pools: pg.Pool[] = [];
const channels: Channel[] = [];

before(async (t) => {
  if (!(await needService(t as never, "postgres"))) return;
  db = createPgDatabase();
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});
after(async () => {
  await Promise.all(channels.map((c) => c.close()));
  await Promise.all(pools.map((p) => p.end()));
  await admin?.end();
  db?.drop();
});

const open = (url: string, name: string, options?: ChannelOptions) => {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // Tests end backends and drop databases: an idle pooled connection ending must not become an uncaught error.
  pool.on("error", () => undefined);
  pools.push(pool);
  const errors: string[] = [];
  const messages: string[] = [];
  const resumed: Date[] = [];
  const channel = postgresChannel(pool, url, name, (m) => void errors.push(m), options);
  channels.push(channel);
  channel.onMessage((m) => void messages.push(m));
  channel.onResumed((since) => void resumed.push(since));
  return { channel, errors, messages, resumed };
};

/** Backends of `database` that LISTEN, as pg_stat_activity sees them (their last query is the LISTEN). */
const listeners = async (database: string) =>
  (await admin!.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'", [database])).rows.map((r) => r.pid);

test("a lost LISTEN connection: reported, re-established, and the gap reported through onResumed", async (t) => {
  if (!db) return t.skip("PostgreSQL missing (see above)");
  const name = `kms_test_${randomBytes(4).toString("hex")}`;
  const c = open(db.url, name);
  await c.channel.ready();
  c.channel.send("before");
  await until(() => c.messages.includes("before"), 5_000, "the message sent while listening");
  assert.equal(c.resumed.length, 0, "a first LISTEN that worked leaves no gap to report");

  const [pid] = await listeners(db.name);
  assert.ok(pid, "the channel listens on a connection of its own");
  const lostAt = Date.now();
  await admin!.query("SELECT pg_terminate_backend($1)", [pid]);
  await until(async () => (await listeners(db!.name)).length === 0, 5_000, "the listening backend gone");
  // Sent while nobody listens (the channel reconnects 1 s after the loss): NOTIFY keeps nothing for it.
  await admin!.query("SELECT pg_notify($1, 'while deaf')", [name]);
  assert.equal((await listeners(db.name)).length, 0, "the message above was sent before the channel listened again");

  await until(() => c.resumed.length > 0, 8_000, "onResumed");
  assert.equal(c.resumed.length, 1);
  const since = c.resumed[0]!.getTime();
  assert.ok(since >= lostAt && since <= Date.now(), `deafSince ${c.resumed[0]!.toISOString()} dates the loss`);
  assert.ok(c.errors.some((e) => e.includes(name) && e.includes("listening again shortly")), `the loss is reported: ${c.errors.join(" | ")}`);
  assert.ok(c.errors.some((e) => e.includes(`listening again; messages sent since ${c.resumed[0]!.toISOString()}`)), `and the end of the gap: ${c.errors.join(" | ")}`);
  assert.equal((await listeners(db.name)).length, 1, "listening again, on a new connection");

  c.channel.send("after");
  await until(() => c.messages.includes("after"), 5_000, "the message sent after the resume");
  assert.ok(!c.messages.includes("while deaf"), "the gap is real: what was sent in it never arrives");
  assert.equal(c.resumed.length, 1, "one gap, one report");
});

test("a first LISTEN that fails: ready() still resolves, and the later success reports the gap since the channel opened", async (t) => {
  if (!db) return t.skip("PostgreSQL missing (see above)");
  // A database that does not exist yet: the first attempt fails, the retry (1 s later) finds it.
  const later = `kms_test_${randomBytes(6).toString("hex")}`;
  const url = db.url.replace(/\/[^/]+$/, `/${later}`);
  const psql = (sql: string) => execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql], { stdio: "pipe" });
  const openedAt = Date.now();
  const c = open(url, "kms_secret_changes");
  try {
    await c.channel.ready();
    const readyAt = Date.now();
    assert.ok(c.errors.some((e) => e.includes(later)), `the failed attempt is reported: ${c.errors.join(" | ")}`);
    assert.equal(c.resumed.length, 0, "nothing to report while still deaf");
    psql(`CREATE DATABASE ${later}`);
    await until(() => c.resumed.length > 0, 8_000, "onResumed after the first successful LISTEN");
    const since = c.resumed[0]!.getTime();
    assert.ok(since >= openedAt && since <= readyAt, `deaf since the channel opened (${c.resumed[0]!.toISOString()})`);
  } finally {
    await c.channel.close();
    psql(`DROP DATABASE IF EXISTS ${later} WITH (FORCE)`);
  }
});

test("a LISTEN connection that goes silent (no error, no answer) is found by the liveness check and replaced", async (t) => {
  if (!db) return t.skip("PostgreSQL missing (see above)");
  if (process.getuid?.() !== 0) return t.skip("stopping a PostgreSQL backend (SIGSTOP) needs root: a silent connection cannot be made otherwise");
  const name = `kms_test_${randomBytes(4).toString("hex")}`;
  const c = open(db.url, name, { probeIntervalMs: 200, probeTimeoutMs: 500 });
  await c.channel.ready();
  // This channel's backend (the earlier tests' channels are still open and listening on other names).
  const listenersOf = async () => (await admin!.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query = $2", [db!.name, `LISTEN "${name}"`])).rows.map((r) => r.pid);
  const [pid] = await listenersOf();
  assert.ok(pid);
  // A stopped backend is what a silently dropped connection looks like from here: the socket stays open and
  // nothing ever answers.
  process.kill(pid, "SIGSTOP");
  try {
    await until(() => c.resumed.length > 0, 8_000, "onResumed after the silent connection was replaced");
    assert.ok(c.errors.some((e) => e.includes("no answer to a liveness check within 500 ms")), `the silence is reported: ${c.errors.join(" | ")}`);
    assert.ok((await listenersOf()).some((p) => p !== pid), "listening on a new connection");
    c.channel.send("after");
    await until(() => c.messages.includes("after"), 5_000, "a message sent after the replacement");
    assert.equal(c.resumed.length, 1, "one gap, one report");
  } finally {
    process.kill(pid, "SIGCONT");
    await admin!.query("SELECT pg_terminate_backend($1)", [pid]);
  }
  // Healthy connections keep answering the check: no further gaps while it runs a few more times.
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(c.resumed.length, 1, "a healthy connection is never replaced");
});

test("a NOTIFY that fails (the database unreachable for the sender) is sent again, in order, instead of being lost", async (t) => {
  if (!db) return t.skip("PostgreSQL missing (see above)");
  const name = `kms_test_${randomBytes(4).toString("hex")}`;
  const listener = open(db.url, name);
  await listener.channel.ready();
  // The sender reaches PostgreSQL through a port where nothing listens yet, then through a proxy there.
  const port = await new Promise<number>((r) => { const s = createNetServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as AddressInfo).port; s.close(() => r(p)); }); });
  const target = new URL(db.url);
  const viaProxy = new URL(db.url);
  viaProxy.host = `127.0.0.1:${port}`;
  const pool = new pg.Pool({ connectionString: viaProxy.toString(), max: 1 });
  pool.on("error", () => undefined);
  pools.push(pool);
  const errors: string[] = [];
  const relay = postgresChannel(pool, db.url, name, (m) => void errors.push(m));
  channels.push(relay);
  for (const m of ["one", "two", "three"]) relay.send(m);
  await until(() => errors.some((e) => e.includes("sending again in")), 5_000, "the first send fails and is reported");
  assert.ok(!listener.messages.includes("one"), "nothing went out while the database was unreachable");
  const proxy = createNetServer((c) => {
    const up = connect(Number(target.port || 5432), target.hostname);
    c.pipe(up).pipe(c);
    c.on("error", () => up.destroy());
    up.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(port, "127.0.0.1", r));
  try {
    await until(() => listener.messages.includes("three"), 10_000, "every message once the database is back");
    assert.deepEqual(listener.messages.filter((m) => ["one", "two", "three"].includes(m)), ["one", "two", "three"], "each once, in the order sent");
  } finally {
    await pool.end();
    pools.splice(pools.indexOf(pool), 1);
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});

test("close() sends what still waits before it stops, and gives up within its bound when the database does not answer", async (t) => {
  if (!db) return t.skip("PostgreSQL missing (see above)");
  const name = `kms_test_${randomBytes(4).toString("hex")}`;
  const listener = open(db.url, name);
  await listener.channel.ready();
  const sender = open(db.url, name);
  const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
  for (const m of sent) sender.channel.send(m);
  await sender.channel.close();
  await until(() => listener.messages.includes("m199"), 5_000, "the last message sent before close()");
  assert.deepEqual(listener.messages.filter((m) => m.startsWith("m")), sent, "every message, once, in order");
  assert.deepEqual(sender.errors.filter((e) => e.includes("not sent")), []);

  // A sender whose database went away: close() reports what it could not send and returns within its bound.
  const port = await new Promise<number>((r) => { const s = createNetServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as AddressInfo).port; s.close(() => r(p)); }); });
  const away = new URL(db.url);
  away.host = `127.0.0.1:${port}`;
  const stuck = open(away.toString(), name);
  stuck.channel.send("lost");
  const t0 = Date.now();
  await stuck.channel.close();
  assert.ok(Date.now() - t0 < 3_000, `close() took ${Date.now() - t0} ms`);
  assert.ok(stuck.errors.some((e) => /closing with 1 message\(s\) not sent/.test(e)), stuck.errors.join("\n"));
});
