import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { Actor } from "../../../src/core/actor.js";
import type { Clock } from "../../../src/core/clock.js";
import { BadRequestError, NotFoundError } from "../../../src/core/errors.js";
import { dynamicSecretModule, type DynamicSecretModule } from "../../../src/core/dynamic-secrets/module.js";
import { ProviderError, type DynamicSecretProvider } from "../../../src/core/dynamic-secrets/provider.js";
import type { ProviderRegistry } from "../../../src/core/dynamic-secrets/providers/index.js";
import { rootKeyring } from "../../../src/crypto/envelope.js";
import { createServices } from "../../../src/server/services.js";
import { openDatabase, type OpenedDatabase } from "../../../src/store/db.js";
import { dynamicSecretStore } from "../../../src/store/dynamic-secrets.js";
import { folderStore } from "../../../src/store/folders.js";
import { identityStore } from "../../../src/store/identities.js";
import { migrateToLatest } from "../../../src/store/migrate.js";

/** Time that moves only when the test says so; `advance` wakes the sleepers whose time has come. */
class ManualClock implements Clock {
  t = Date.UTC(2030, 0, 1);
  private sleepers: { at: number; wake: () => void }[] = [];
  now = () => this.t;
  sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const s = { at: this.t + ms, wake: resolve };
      this.sleepers.push(s);
      signal?.addEventListener("abort", () => { this.sleepers = this.sleepers.filter((x) => x !== s); reject(signal.reason); }, { once: true });
    });
  advance(ms: number) {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.wake();
  }
}

/** A target system in memory: which users exist, until when, and whether revocation currently fails. */
const target = { users: new Map<string, number>(), failRevoke: false, hold: undefined as { user: string; reached: () => void; release: Promise<void> } | undefined };
const fakeProvider: DynamicSecretProvider<{ password?: string }> = {
  inputs: z.object({ password: z.string().optional() }),
  secretFields: ["password"],
  validateConnection: async () => {},
  create: async (_i, { username, expireAt }) => {
    target.users.set(username, expireAt.getTime());
    return { entityId: username, data: { DB_USERNAME: username, DB_PASSWORD: `pw-${username}` } };
  },
  renew: async (_i, lease) => { target.users.set(lease.entityId, lease.expireAt.getTime()); },
  revoke: async (_i, lease) => {
    if (target.hold?.user === lease.entityId) {
      target.hold.reached();
      await target.hold.release;
    }
    if (target.failRevoke) throw new ProviderError("Failed to revoke on fake at h:1: target down");
    target.users.delete(lease.entityId);
  },
};

describe("lease lifecycle and the sweeper, on an injected clock", () => {
  const clock = new ManualClock();
  let dir: string;
  let database: OpenedDatabase;
  let mod: DynamicSecretModule;
  let services: ReturnType<typeof createServices>;
  let actor: Actor;
  const where = { projectSlug: "sweeper-test", environmentSlug: "dev" };
  const leasesOf = () => mod.secrets.listLeases(actor, where, "fake");

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kms-dyn-"));
    database = openDatabase({ dataDir: dir });
    await migrateToLatest(database.db);
    services = createServices({ db: database.db, root: rootKeyring(randomBytes(32)), clock, publicUrl: () => "http://127.0.0.1" });
    const boot = await services.bootstrap.bootstrap({ email: "a@example.com", password: "pw-123456", organization: "org" }, { ip: "127.0.0.1" });
    actor = await services.tokens.authenticate(boot.identity.credentials.token, { ip: "127.0.0.1" });
    await services.projects.create(actor, { projectName: "Sweeper", slug: where.projectSlug });
    mod = dynamicSecretModule({
      store: dynamicSecretStore(database.db), folders: folderStore(database.db), access: services.access, projects: services.projects,
      keys: services.keys, identities: identityStore(database.db), audit: services.audit, clock,
      options: { sweepIntervalMs: 10_000, minTtlMs: 60_000, connectTimeoutMs: 1000 },
      providers: { "sql-database": fakeProvider, redis: fakeProvider } as unknown as ProviderRegistry,
    });
    await mod.secrets.create(actor, { ...where, name: "fake", provider: { type: "redis", inputs: { password: "admin-pw" } }, defaultTTL: "10m", maxTTL: "1h" });
  });
  after(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a sweep revokes exactly the leases whose expiry has passed", async () => {
    const short = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake", ttl: "1m" });
    const long = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake" });
    clock.advance(59_000);
    assert.deepEqual(await mod.sweeper.sweepOnce(), { revoked: 0, failed: 0 });
    clock.advance(1_000);
    assert.deepEqual(await mod.sweeper.sweepOnce(), { revoked: 1, failed: 0 }, "due at its expireAt");
    assert.ok(!target.users.has(short.data.DB_USERNAME));
    assert.ok(target.users.has(long.data.DB_USERNAME));
    await assert.rejects(mod.leases.get(actor, short.lease.id, where), NotFoundError);
    await mod.leases.revoke(actor, long.lease.id, where, false);
  });

  test("a failed revocation is marked FailedDeletion with the reason and retried by the next sweep", async () => {
    const l = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake", ttl: "1m" });
    target.failRevoke = true;
    clock.advance(61_000);
    assert.deepEqual(await mod.sweeper.sweepOnce(), { revoked: 0, failed: 1 }, "tried once per sweep, not in a loop");
    const [marked] = await leasesOf();
    assert.equal(marked!.status, "FailedDeletion");
    assert.match(marked!.statusDetails!, /target down/);
    assert.ok(target.users.has(l.data.DB_USERNAME));
    target.failRevoke = false;
    assert.deepEqual(await mod.sweeper.sweepOnce(), { revoked: 1, failed: 0 });
    assert.deepEqual(await leasesOf(), []);
    assert.ok(!target.users.has(l.data.DB_USERNAME));
  });

  test("a client's revoke that fails answers 400 and keeps the lease; isForced drops it", async () => {
    const l = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake" });
    target.failRevoke = true;
    await assert.rejects(mod.leases.revoke(actor, l.lease.id, where, false), ProviderError);
    assert.equal((await mod.leases.get(actor, l.lease.id, where)).lease.status, "FailedDeletion");
    await mod.leases.revoke(actor, l.lease.id, where, true);
    await assert.rejects(mod.leases.get(actor, l.lease.id, where), NotFoundError);
    target.failRevoke = false;
    target.users.delete(l.data.DB_USERNAME);
  });

  test("renewal moves expireAt to now + ttl but never past createdAt + maxTTL; an expired lease cannot be renewed", async () => {
    const l = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake", ttl: "30m" });
    clock.advance(20 * 60_000);
    await assert.rejects(mod.leases.renew(actor, l.lease.id, where, "45m"), (e: unknown) => e instanceof BadRequestError && /past its max TTL/.test(e.message));
    const r = await mod.leases.renew(actor, l.lease.id, where, "40m");
    assert.equal(r.lease.expireAt, new Date(clock.now() + 40 * 60_000).toISOString());
    assert.equal(target.users.get(l.data.DB_USERNAME), clock.now() + 40 * 60_000, "the provider was told");
    clock.advance(41 * 60_000);
    await assert.rejects(mod.leases.get(actor, l.lease.id, where), NotFoundError);
    await assert.rejects(mod.leases.renew(actor, l.lease.id, where), /expired/);
    await mod.sweeper.sweepOnce();
  });

  test("the running sweeper wakes every interval of the clock, and stop() waits for it", async () => {
    const l = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake", ttl: "1m" });
    const running = mod.sweeper.start();
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(target.users.has(l.data.DB_USERNAME), "not yet expired at the first sweep");
    clock.advance(61_000);
    for (let i = 0; i < 100 && target.users.has(l.data.DB_USERNAME); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(!target.users.has(l.data.DB_USERNAME), "revoked on the next interval");
    await running.stop();
  });

  test("a lease renewed on another server after this sweep listed it expired is not revoked (clocks 2 s apart)", async () => {
    // Two servers on one database; the sweeping one's clock runs 2 s ahead of the renewing one's.
    const ahead = new ManualClock();
    const sweeping = dynamicSecretModule({
      store: dynamicSecretStore(database.db), folders: folderStore(database.db), access: services.access, projects: services.projects,
      keys: services.keys, identities: identityStore(database.db), audit: services.audit, clock: ahead,
      options: { sweepIntervalMs: 10_000, minTtlMs: 60_000, connectTimeoutMs: 1000 },
      providers: { "sql-database": fakeProvider, redis: fakeProvider } as unknown as ProviderRegistry,
    });
    const first = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake", ttl: "1m" });
    clock.advance(1);
    const second = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake", ttl: "1m" });
    clock.advance(59_000 - 1);
    ahead.t = clock.now() + 2_000;
    // The sweep lists both as expired, then spends a while revoking the first.
    let reached!: () => void;
    let release!: () => void;
    const atFirst = new Promise<void>((r) => { reached = r; });
    target.hold = { user: first.data.DB_USERNAME, reached, release: new Promise<void>((r) => { release = r; }) };
    const sweep = sweeping.sweeper.sweepOnce();
    await atFirst;
    // Meanwhile the other server, for which the second lease has a second left, renews it.
    const renewed = await mod.leases.renew(actor, second.lease.id, where, "10m");
    release();
    target.hold = undefined;
    assert.deepEqual(await sweep, { revoked: 1, failed: 0 }, "only the first");
    assert.equal((await mod.leases.get(actor, second.lease.id, where)).lease.expireAt, renewed.lease.expireAt, "the renewed lease is still there");
    assert.ok(target.users.has(second.data.DB_USERNAME), "and so is its user");
    await mod.leases.revoke(actor, second.lease.id, where, false);
  });

  test("the lease lock keeps two operations apart and lapses if its holder dies", async () => {
    const store = dynamicSecretStore(database.db);
    const l = await mod.leases.create(actor, { ...where, dynamicSecretName: "fake" });
    const at = (ms: number) => new Date(clock.now() + ms).toISOString();
    assert.equal(await store.lockLease(l.lease.id, at(0), at(1000)), true);
    assert.equal(await store.lockLease(l.lease.id, at(500), at(1500)), false, "held");
    await assert.rejects(mod.leases.renew(actor, l.lease.id, where), /being revoked or renewed/);
    assert.equal(await store.lockLease(l.lease.id, at(1001), at(2000)), true, "lapsed");
    await store.updateLease(l.lease.id, { lock_until: null });
    await mod.leases.revoke(actor, l.lease.id, where, false);
  });
});
