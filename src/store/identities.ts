import type { Kysely, Transaction } from "kysely";
import { coalescingCounter } from "./group-commit.js";
import { prepare } from "./prepared.js";
import type { AccessTokenTable, ClientSecretTable, Database, IdentityTable, OrganizationTable, UaLockoutTable, UniversalAuthTable, UserTable } from "./schema.js";

type Db = Kysely<Database> | Transaction<Database>;

/** The live tokens an auth method issued to an identity: they follow the method (revoked on detach, re-trusted on update). */
export interface IssuedTokens { identityId: string; authMethod: string; now: string }
const liveTokensOf = (db: Db, t: IssuedTokens) =>
  db.updateTable("access_tokens").where("identity_id", "=", t.identityId).where("auth_method", "=", t.authMethod).where("is_revoked", "=", 0);
/** Revokes them, in the caller's transaction. */
export const revokeIssuedTokens = (db: Db, t: IssuedTokens) => liveTokensOf(db, t).set({ is_revoked: 1, updated_at: t.now }).execute();
/** Gives them the method's new access-token trusted IPs, in the caller's transaction. */
export const retrustIssuedTokens = (db: Db, t: IssuedTokens, trustedIps: string) => liveTokensOf(db, t).set({ trusted_ips: trustedIps, updated_at: t.now }).execute();

export const identityStore = (db: Kysely<Database>) => {
  const tokenWithIdentity = prepare(db, (id: string) =>
    db.selectFrom("access_tokens").leftJoin("identities", "identities.id", "access_tokens.identity_id")
      .selectAll("access_tokens").select(["identities.org_id as identity_org_id", "identities.org_role as identity_org_role"])
      .where("access_tokens.id", "=", id));
  return {
  /** Bootstrap writes the organization, the user, the admin identity and its token in one transaction. */
  bootstrap: (rows: { org: OrganizationTable; user: UserTable; identity: IdentityTable; token: AccessTokenTable; now: string }) =>
    db.transaction().execute(async (tx) => {
      const done = await tx.selectFrom("meta").select("value").where("key", "=", "bootstrapped").executeTakeFirst();
      if (done) return false;
      await tx.insertInto("meta").values({ key: "bootstrapped", value: rows.now }).execute();
      await tx.insertInto("organizations").values(rows.org).execute();
      await tx.insertInto("users").values(rows.user).execute();
      await tx.insertInto("identities").values(rows.identity).execute();
      await tx.insertInto("access_tokens").values(rows.token).execute();
      return true;
    }),
  isBootstrapped: async () => !!(await db.selectFrom("meta").select("value").where("key", "=", "bootstrapped").executeTakeFirst()),

  getOrg: (id: string) => db.selectFrom("organizations").selectAll().where("id", "=", id).executeTakeFirst(),

  insertIdentity: (row: IdentityTable) => db.insertInto("identities").values(row).execute(),
  getIdentity: (id: string) => db.selectFrom("identities").selectAll().where("id", "=", id).executeTakeFirst(),
  listIdentities: (orgId: string) => db.selectFrom("identities").selectAll().where("org_id", "=", orgId).orderBy("created_at").execute(),
  updateIdentity: (id: string, patch: Partial<IdentityTable>) => db.updateTable("identities").set(patch).where("id", "=", id).execute(),
  deleteIdentity: (id: string) => db.deleteFrom("identities").where("id", "=", id).execute(),

  insertUa: (row: UniversalAuthTable) => db.insertInto("universal_auths").values(row).execute(),
  getUaByIdentity: (identityId: string) => db.selectFrom("universal_auths").selectAll().where("identity_id", "=", identityId).executeTakeFirst(),
  getUaByClientId: (clientId: string) => db.selectFrom("universal_auths").selectAll().where("client_id", "=", clientId).executeTakeFirst(),
  /** With `tokens`, a new access-token trusted-IP list applies to the live tokens in the same transaction. */
  updateUa: (id: string, patch: Partial<UniversalAuthTable>, tokens?: IssuedTokens) =>
    db.transaction().execute(async (tx) => {
      await tx.updateTable("universal_auths").set(patch).where("id", "=", id).execute();
      if (tokens && patch.access_token_trusted_ips) await retrustIssuedTokens(tx, tokens, patch.access_token_trusted_ips);
    }),
  /** Detaches universal auth and revokes the tokens it issued, in one transaction. */
  deleteUa: (id: string, tokens: IssuedTokens) =>
    db.transaction().execute(async (tx) => {
      await tx.deleteFrom("universal_auths").where("id", "=", id).execute();
      await revokeIssuedTokens(tx, tokens);
    }),

  insertClientSecret: (row: ClientSecretTable) => db.insertInto("client_secrets").values(row).execute(),
  listClientSecrets: (uaId: string) => db.selectFrom("client_secrets").selectAll().where("identity_ua_id", "=", uaId).orderBy("created_at").execute(),
  getClientSecret: (uaId: string, id: string) =>
    db.selectFrom("client_secrets").selectAll().where("identity_ua_id", "=", uaId).where("id", "=", id).executeTakeFirst(),
  findClientSecretByHash: (uaId: string, hash: string) =>
    db.selectFrom("client_secrets").selectAll().where("identity_ua_id", "=", uaId).where("secret_hash", "=", hash).executeTakeFirst(),
  revokeClientSecret: (id: string, now: string) => db.updateTable("client_secrets").set({ is_revoked: 1, updated_at: now }).where("id", "=", id).execute(),
  /** Counts one use unless the limit is reached; false when it was. Atomic, so parallel logins can't overrun it. */
  useClientSecret: async (id: string, now: string) => {
    const r = await db.updateTable("client_secrets")
      .set((eb) => ({ num_uses: eb("num_uses", "+", 1), updated_at: now }))
      .where("id", "=", id)
      .where((eb) => eb.or([eb("num_uses_limit", "=", 0), eb("num_uses", "<", eb.ref("num_uses_limit"))]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  getLockout: (uaId: string) => db.selectFrom("ua_lockouts").selectAll().where("identity_ua_id", "=", uaId).executeTakeFirst(),
  putLockout: async (row: UaLockoutTable) => {
    await db.insertInto("ua_lockouts").values(row)
      .onConflict((oc) => oc.column("identity_ua_id").doUpdateSet({ failures: row.failures, window_started_at: row.window_started_at, locked_until: row.locked_until }))
      .execute();
  },
  clearLockout: async (uaId: string) => Number((await db.deleteFrom("ua_lockouts").where("identity_ua_id", "=", uaId).executeTakeFirst()).numDeletedRows),

  insertToken: (row: AccessTokenTable, tx: Db = db) => tx.insertInto("access_tokens").values(row).execute(),
  getToken: (id: string) => db.selectFrom("access_tokens").selectAll().where("id", "=", id).executeTakeFirst(),
  /** The token with its identity's organization and role in one lookup: the auth hook runs on every request. */
  getTokenWithIdentity: (id: string) => tokenWithIdentity.first(id),
  /** Counts one use unless the token's use limit is reached; false when it was. */
  useToken: async (id: string) => {
    const r = await db.updateTable("access_tokens")
      .set((eb) => ({ num_uses: eb("num_uses", "+", 1) }))
      .where("id", "=", id)
      .where((eb) => eb.or([eb("num_uses_limit", "=", 0), eb("num_uses", "<", eb.ref("num_uses_limit"))]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
  /**
   * Counts a use of a token that has no use limit (nothing to refuse, so nothing to check, and nothing reads
   * the count but a person): the uses of one second share one UPDATE per token. Resolves once it is written;
   * callers need not wait (token-service.ts does not), and a crash loses at most that second's count.
   */
  countTokenUse: coalescingCounter<string>(async (counts) => {
    for (const [id, n] of counts) await db.updateTable("access_tokens").set((eb) => ({ num_uses: eb("num_uses", "+", n) })).where("id", "=", id).execute();
  }, { windowMs: 1_000 }),
  renewToken: (id: string, now: string) => db.updateTable("access_tokens").set({ last_renewed_at: now, updated_at: now }).where("id", "=", id).execute(),
  /** Every live token an identity got through one auth method: revoked when the method is detached. */
  revokeToken: (id: string, now: string) => db.updateTable("access_tokens").set({ is_revoked: 1, updated_at: now }).where("id", "=", id).execute(),
  };
};
export type IdentityStore = ReturnType<typeof identityStore>;
