import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../../src/agent/log.js";
import { openLeaseCache } from "../../../src/agent/cache/lease-cache.js";
import { createLeaseManager, leaseKey } from "../../../src/agent/secrets/leases.js";
import type { LeaseRequest } from "../../../src/agent/secrets/leases.js";
import { apiErrorFor } from "../../../src/client/errors.js";
import { FakeClock } from "../fake-clock.js";

/** A fake of the lease routes with the server's rules: renew up to createdAt + maxTTL, 404 once revoked. */
const fakeLeaseServer = (clock: FakeClock, opts: { ttlMs: number; maxTtlMs: number }) => {
  let n = 0;
  const leases = new Map<string, { createdAt: number; expireAt: number; revoked: boolean }>();
  const log: string[] = [];
  const iso = (t: number) => new Date(t).toISOString();
  const client = {
    createLease: async () => {
      const id = `lease-${++n}`;
      const now = clock.now();
      leases.set(id, { createdAt: now, expireAt: now + opts.ttlMs, revoked: false });
      log.push(`create ${id}`);
      return { lease: { id, expireAt: iso(now + opts.ttlMs), createdAt: iso(now) }, dynamicSecret: { maxTTL: `${opts.maxTtlMs}ms`.replace(/^(\d+)ms$/, "$1") }, data: { DB_USERNAME: `user-${n}`, DB_PASSWORD: `pw-${n}` } };
    },
    getLease: async (id: string) => {
      const l = leases.get(id);
      if (!l || l.revoked || l.expireAt <= clock.now()) throw apiErrorFor({ method: "GET", path: "/lease", status: 404, serverMessage: "not found" });
      return { lease: { id, expireAt: iso(l.expireAt) } };
    },
    renewLease: async (id: string) => {
      const l = leases.get(id)!;
      const next = clock.now() + opts.ttlMs;
      if (l.revoked || next > l.createdAt + opts.maxTtlMs) throw apiErrorFor({ method: "POST", path: "/renew", status: 400, serverMessage: "past max TTL" });
      l.expireAt = next;
      log.push(`renew ${id}`);
      return { lease: { id, expireAt: iso(next) } };
    },
    revokeLease: async (id: string) => {
      leases.get(id)!.revoked = true;
      log.push(`revoke ${id}`);
      return { lease: { id, expireAt: iso(clock.now()) } };
    },
  };
  return { client, log, leases };
};

const req: LeaseRequest = { projectSlug: "app", environment: "dev", secretPath: "/", name: "pg", ttl: "30s", principals: "" };
const tokens = { withToken: <T>(fn: (t: string) => Promise<T>) => fn("tok") };
const retry = { maxRetries: 0, baseDelayMs: 10, maxDelayMs: 10 };

test("identical requests share one lease, also when they arrive together; a different TTL is another lease", async () => {
  const clock = new FakeClock();
  const srv = fakeLeaseServer(clock, { ttlMs: 30_000, maxTtlMs: 3_600_000 });
  const m = createLeaseManager({ client: srv.client, tokens, retry, clock, logger: silentLogger });
  const [a, b] = await Promise.all([m.acquire(req, "templates[0]"), m.acquire(req, "templates[1]")]);
  assert.deepEqual(a, b);
  assert.deepEqual(srv.log, ["create lease-1"]);
  await m.acquire({ ...req, ttl: "1m" }, "templates[2]");
  assert.deepEqual(srv.log, ["create lease-1", "create lease-2"]);
  assert.deepEqual([...m.owners()].sort(), ["templates[0]", "templates[1]", "templates[2]"]);
  // Handing out a copy: a template that `set`s a key cannot change the next render's data.
  (a as Record<string, unknown>).DB_USERNAME = "mutated";
  assert.equal((await m.acquire(req, "templates[0]")).DB_USERNAME, "user-1");
});

test("renewal at 2/3 of the lease while max TTL allows, then rotation: owners render before the old lease is revoked", async () => {
  const clock = new FakeClock();
  const srv = fakeLeaseServer(clock, { ttlMs: 30_000, maxTtlMs: 75_000 });
  const events: string[] = [];
  const m = createLeaseManager({
    client: srv.client, tokens, retry, clock, logger: silentLogger,
    onRotated: async (owners) => {
      events.push(`render ${owners.join(",")} while ${srv.log.at(-1)}`);
    },
  });
  await m.acquire(req, "templates[0]");
  const abort = new AbortController();
  clock.sleepers = 1;
  const running = m.run(abort.signal);
  await clock.runUntil(() => srv.log.length >= 5, { maxVirtualMs: 120_000 });
  abort.abort();
  await running;
  // 0: create (expires 30 s); 20 s: renew (50 s); 40 s: renew (70 s); 60 s: 60+30 > 75 → rotate.
  assert.deepEqual(srv.log.slice(0, 5), ["create lease-1", "renew lease-1", "renew lease-1", "create lease-2", "revoke lease-1"]);
  assert.deepEqual(events, ["render templates[0] while create lease-2"]);
  assert.equal(m.leases()[0]!.leaseId, "lease-2");
});

test("a lease nobody uses any more (after a reload) is not rotated: it is left to expire", async () => {
  const clock = new FakeClock();
  const srv = fakeLeaseServer(clock, { ttlMs: 30_000, maxTtlMs: 40_000 });
  const m = createLeaseManager({ client: srv.client, tokens, retry, clock, logger: silentLogger });
  await m.acquire(req, "templates[0]");
  m.resetOwners();
  const abort = new AbortController();
  clock.sleepers = 1;
  const running = m.run(abort.signal);
  await clock.runUntil(() => m.leases().length === 0, { maxVirtualMs: 120_000 });
  abort.abort();
  await running;
  assert.deepEqual(srv.log, ["create lease-1"]);
});

test("revokeAll revokes every lease", async () => {
  const clock = new FakeClock();
  const srv = fakeLeaseServer(clock, { ttlMs: 30_000, maxTtlMs: 3_600_000 });
  const m = createLeaseManager({ client: srv.client, tokens, retry, clock, logger: silentLogger });
  await m.acquire(req, "a");
  await m.acquire({ ...req, name: "other" }, "b");
  assert.equal(await m.revokeAll(), true);
  assert.deepEqual(srv.log.filter((l) => l.startsWith("revoke")).sort(), ["revoke lease-1", "revoke lease-2"]);
  assert.deepEqual(m.leases(), []);
});

test("the cache: a restarted manager reuses a lease the server still has; one it forgot (404) or one about to expire is replaced", async () => {
  const clock = new FakeClock(Date.now());
  const dir = mkdtempSync(join(tmpdir(), "kms-lease-cache-"));
  const cfg = { type: "file" as const, path: join(dir, "cache"), "key-file": join(dir, "key") };
  const srv = fakeLeaseServer(clock, { ttlMs: 600_000, maxTtlMs: 3_600_000 });
  const make = async () => createLeaseManager({ client: srv.client, tokens, retry, clock, logger: silentLogger, cache: await openLeaseCache(cfg, { clock, logger: silentLogger }) });

  const first = await (await make()).acquire(req, "t");
  assert.deepEqual(await (await make()).acquire(req, "t"), first, "reused after a restart");
  assert.deepEqual(srv.log, ["create lease-1"]);

  srv.leases.get("lease-1")!.revoked = true; // the server forgot it
  const third = await (await make()).acquire(req, "t");
  assert.notDeepEqual(third, first);
  assert.deepEqual(srv.log, ["create lease-1", "create lease-2"]);

  srv.leases.get("lease-2")!.expireAt = clock.now() + 10_000; // expires within the 30 s margin
  await (await make()).acquire(req, "t");
  assert.deepEqual(srv.log, ["create lease-1", "create lease-2", "revoke lease-2", "create lease-3"]);
  assert.equal(leaseKey(req), leaseKey({ ...req, name: "PG" }), "names are case-insensitive, as on the server");
});

test("leases made in one render fall due milliseconds apart: a renewal that takes longer than that does not make the loop skip the next one", async () => {
  const clock = new FakeClock();
  const srv = fakeLeaseServer(clock, { ttlMs: 30_000, maxTtlMs: 3_600_000 });
  // Each call takes 50 ms of (virtual) time: the second lease is overdue when the first one's renewal returns.
  const slow = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A) => {
    clock.t += 50;
    return fn(...a);
  };
  const client = { ...srv.client, createLease: slow(srv.client.createLease), renewLease: slow(srv.client.renewLease) };
  const m = createLeaseManager({ client, tokens, retry, clock, logger: silentLogger });
  await m.acquire(req, "templates[0]");
  await m.acquire({ ...req, name: "other" }, "templates[0]");
  const abort = new AbortController();
  clock.sleepers = 1;
  const running = m.run(abort.signal);
  // Three renewal rounds (the last due at about 60 s) and nothing expires in between.
  await clock.runUntil(() => srv.log.filter((l) => l.startsWith("renew")).length >= 6, { maxVirtualMs: 65_000 });
  abort.abort();
  await running;
  assert.deepEqual(srv.log.filter((l) => l !== "renew lease-1" && l !== "renew lease-2"), ["create lease-1", "create lease-2"], "no lease was replaced");
  assert.equal(srv.log.filter((l) => l === "renew lease-2").length, 3);
  for (const l of srv.leases.values()) assert.ok(l.expireAt > clock.now(), "every lease is alive");
});

test("an expired lease (the machine slept through its renewals) is replaced at once and its templates render", async () => {
  const clock = new FakeClock();
  const srv = fakeLeaseServer(clock, { ttlMs: 30_000, maxTtlMs: 3_600_000 });
  const rendered: string[][] = [];
  const m = createLeaseManager({
    client: srv.client, tokens, retry, clock, logger: silentLogger,
    onRotated: async (owners) => {
      rendered.push(owners);
    },
  });
  await m.acquire(req, "templates[0]");
  clock.t += 45_000;
  const abort = new AbortController();
  clock.sleepers = 1;
  const running = m.run(abort.signal);
  await clock.runUntil(() => rendered.length > 0, { maxVirtualMs: 1_000 });
  abort.abort();
  await running;
  assert.deepEqual(srv.log, ["create lease-1", "create lease-2", "revoke lease-1"]);
  assert.deepEqual(rendered, [["templates[0]"]]);
  assert.equal(m.leases()[0]!.leaseId, "lease-2");
  assert.equal((await m.acquire(req, "templates[0]")).DB_USERNAME, "user-2");
});

test("an expired lease whose replacement fails is retried with backoff, not in a busy loop", async () => {
  const clock = new FakeClock();
  const srv = fakeLeaseServer(clock, { ttlMs: 30_000, maxTtlMs: 3_600_000 });
  let refuse = 3;
  const client = {
    ...srv.client,
    createLease: async () => {
      if (srv.log.length > 0 && refuse-- > 0) throw apiErrorFor({ method: "POST", path: "/lease", status: 400, serverMessage: "quota" });
      return srv.client.createLease();
    },
  };
  const rendered: string[][] = [];
  const m = createLeaseManager({ client, tokens, retry, clock, logger: silentLogger, random: () => 0.5, onRotated: async (o) => void rendered.push(o) });
  await m.acquire(req, "templates[0]");
  clock.t += 45_000;
  const start = clock.now();
  const abort = new AbortController();
  clock.sleepers = 1;
  const running = m.run(abort.signal);
  await clock.runUntil(() => rendered.length > 0, { maxVirtualMs: 60_000 });
  abort.abort();
  await running;
  assert.deepEqual(srv.log, ["create lease-1", "create lease-2", "revoke lease-1"]);
  // Three refusals: 1 s, 2 s and 4 s of backoff before the fourth attempt.
  assert.ok(clock.now() - start >= 7_000, `replaced after ${clock.now() - start} ms`);
});
