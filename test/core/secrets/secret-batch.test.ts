import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { systemClock } from "../../../src/core/clock.js";
import { BadRequestError, NotFoundError } from "../../../src/core/errors.js";
import type { Actor } from "../../../src/core/actor.js";
import { rootKeyring } from "../../../src/crypto/envelope.js";
import { createServices, type Services } from "../../../src/server/services.js";
import { scopeFactory } from "../../../src/core/secrets/scope.js";
import { secretServiceFactory } from "../../../src/core/secrets/secret-service.js";
import type { OpenedDatabase } from "../../../src/store/db.js";
import { folderStore } from "../../../src/store/folders.js";
import { migrateToLatest } from "../../../src/store/migrate.js";
import { projectStore } from "../../../src/store/projects.js";
import { secretStore, type SecretBatch, type SecretStore } from "../../../src/store/secrets.js";
import { openPostgresTestDatabase, openSqliteTestDatabase, type TestDatabase } from "../../helpers/databases.js";

/**
 * A batch whose checks passed can still fail inside its transaction: another request changed, deleted or
 * created one of its secrets between the checks and the write. Here that request runs exactly then (the
 * store's applyBatch is wrapped to run it first), on a real database, and the whole batch must be gone:
 * the updates and deletes that ran before the failing statement too, and the project's generation (the
 * list cache's stamp) unchanged.
 */
const suite = (name: string, open: (t: TestContext) => Promise<TestDatabase | undefined>) =>
  describe(`secret batches that lose a race (${name})`, () => {
    const setup = async (d: OpenedDatabase) => {
      const services = createServices({ db: d.db, root: rootKeyring(randomBytes(32)), clock: systemClock, publicUrl: () => "http://127.0.0.1" });
      const boot = await services.bootstrap.bootstrap({ email: "a@example.com", password: "pw-123456", organization: "org" }, { ip: "127.0.0.1" });
      const actor = await services.tokens.authenticate(boot.identity.credentials.token, { ip: "127.0.0.1" });
      const p = await services.projects.create(actor, { projectName: "Batch", slug: "batch-race" });
      const store = secretStore(d.db);
      let before: (() => Promise<unknown>) | undefined;
      // The batch service over the real store, except that `before` runs just ahead of the transaction.
      const racing: SecretStore = {
        ...store,
        applyBatch: async (b: SecretBatch) => {
          await before?.();
          return store.applyBatch(b);
        },
      };
      const folders = folderStore(d.db);
      const batch = secretServiceFactory({
        scopes: scopeFactory({ access: services.access, folders }), access: services.access, store: racing, folders,
        environments: projectStore(d.db), keys: services.keys, audit: services.audit, clock: systemClock,
      });
      const where = { projectId: p.id, environment: "dev" };
      const state = async () => ({
        generation: await store.generation(p.id),
        secrets: (await services.secrets.list(actor, { ...where, path: "/", recursive: true, viewSecretValue: true, expandSecretReferences: false, includeImports: false }))
          .secrets.map((x) => [x.secretKey, x.secretValue, x.version]),
      });
      return { services, actor, batch, where, state, race: (fn: () => Promise<unknown>) => { before = async () => { before = undefined; await fn(); }; } };
    };
    const put = (s: Services, actor: Actor, where: { projectId: string; environment: string }, key: string, value: string) =>
      s.secrets.create(actor, { ...where, secretName: key, secretValue: value, type: "shared" });

    test("an update whose secret another request changed meanwhile: 400, and the batch's other writes are rolled back", async (t) => {
      const o = await open(t);
      if (!o) return;
      try {
        const { services, actor, batch, where, state, race } = await setup(o.d);
        await put(services, actor, where, "A", "a1");
        await put(services, actor, where, "B", "b1");
        race(() => services.secrets.update(actor, { ...where, secretName: "B", secretValue: "b-racer", type: "shared" }));
        const generation = (await state()).generation;
        const expected = [["A", "a1", 1], ["B", "b-racer", 2]];
        await assert.rejects(
          batch.updateMany(actor, { ...where, mode: "upsert", secrets: [{ secretKey: "A", secretValue: "a2" }, { secretKey: "B", secretValue: "b2" }, { secretKey: "C", secretValue: "c" }] }),
          (e: unknown) => e instanceof BadRequestError && /^Secret 'B' was changed by another request at the same time; nothing was written/.test(e.message),
        );
        const after = await state();
        assert.deepEqual(after.secrets, expected, "A's update (applied before B's failed) and C's create are rolled back");
        assert.equal(after.generation, generation + 1, "the racer's write bumped the generation once, the failed batch not at all");
        const events = await services.audit.list({ projectId: where.projectId, limit: 500 });
        assert.deepEqual(events.filter((e) => e.metadata.batch), [], "nor are its audit events");
      } finally {
        await o.done();
      }
    });

    test("a delete whose secret another request deleted meanwhile: 404, and nothing else is deleted", async (t) => {
      const o = await open(t);
      if (!o) return;
      try {
        const { services, actor, batch, where, state, race } = await setup(o.d);
        for (const k of ["A", "B", "C"]) await put(services, actor, where, k, k.toLowerCase());
        race(() => services.secrets.remove(actor, { ...where, secretName: "C", type: "shared" }));
        const generation = (await state()).generation;
        await assert.rejects(
          batch.removeMany(actor, { ...where, secrets: [{ secretKey: "A" }, { secretKey: "B" }, { secretKey: "C" }] }),
          (e: unknown) => e instanceof NotFoundError && /^Secret with name 'C' not found \(deleted by another request\); nothing was written/.test(e.message),
        );
        const after = await state();
        assert.deepEqual(after.secrets, [["A", "a", 1], ["B", "b", 1]]);
        assert.equal(after.generation, generation + 1, "only the racer's delete counted");
      } finally {
        await o.done();
      }
    });

    test("a create that another request made first (a unique violation mid-transaction): 400, and the updates before it are rolled back", async (t) => {
      const o = await open(t);
      if (!o) return;
      try {
        const { services, actor, batch, where, state, race } = await setup(o.d);
        await put(services, actor, where, "A", "a1");
        race(() => put(services, actor, where, "NEW", "racer"));
        await assert.rejects(
          batch.updateMany(actor, { ...where, mode: "upsert", secrets: [{ secretKey: "A", secretValue: "a2" }, { secretKey: "NEW", secretValue: "mine" }] }),
          (e: unknown) => e instanceof BadRequestError && /^Secret already exists: one of NEW was created by another request at the same time; nothing was written$/.test(e.message),
        );
        assert.deepEqual((await state()).secrets, [["A", "a1", 1], ["NEW", "racer", 1]]);
        // And the same for a plain create batch.
        race(() => put(services, actor, where, "Y", "racer"));
        await assert.rejects(
          batch.createMany(actor, { ...where, secrets: [{ secretKey: "X", secretValue: "x" }, { secretKey: "Y", secretValue: "y" }] }),
          (e: unknown) => e instanceof BadRequestError && /created by another request/.test(e.message),
        );
        assert.deepEqual((await state()).secrets, [["A", "a1", 1], ["NEW", "racer", 1], ["Y", "racer", 1]]);
        assert.deepEqual((await services.audit.list({ projectId: where.projectId, limit: 500 })).filter((e) => e.metadata.batch), []);
      } finally {
        await o.done();
      }
    });

    test("a batch of 1,000 creates commits in one transaction, then 1,000 updates and 1,000 deletes", async (t) => {
      const o = await open(t);
      if (!o) return;
      try {
        const { services, actor, batch, where, state } = await setup(o.d);
        const keys = Array.from({ length: 1000 }, (_, i) => `K_${String(i).padStart(4, "0")}`);
        const g0 = (await state()).generation;
        const created = await batch.createMany(actor, { ...where, secrets: keys.map((k) => ({ secretKey: k, secretValue: `v-${k}` })) });
        assert.equal(created.length, 1000);
        assert.equal((await state()).generation, g0 + 1, "one transaction, one generation");
        const events = (await services.audit.list({ projectId: where.projectId, limit: 500, action: "create-secret" })).filter((e) => e.metadata.batch);
        assert.equal(events.length, 500, "an audit event per secret (the list stops at 500)");
        const updated = await batch.updateMany(actor, { ...where, secrets: keys.map((k) => ({ secretKey: k, secretValue: `w-${k}` })) });
        assert.ok(updated.every((x, i) => x.version === 2 && x.secretValue === `w-${keys[i]}`));
        const s = await state();
        assert.equal(s.secrets.length, 1000);
        assert.equal(s.generation, g0 + 2);
        await batch.removeMany(actor, { ...where, secrets: keys.map((k) => ({ secretKey: k })) });
        assert.deepEqual((await state()).secrets, []);
        await assert.rejects(batch.createMany(actor, { ...where, secrets: [...keys, "ONE_MORE"].map((k) => ({ secretKey: k, secretValue: "v" })) }), /at most 1000 secrets per request, got 1001/);
      } finally {
        await o.done();
      }
    });
  });

suite("SQLite", () => openSqliteTestDatabase("kms-batch-"));
suite("PostgreSQL", openPostgresTestDatabase);
