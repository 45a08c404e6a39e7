import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../core/clock.js";
import { EncryptionKeyMismatchError } from "../core/errors.js";
import { rootKeyring } from "../crypto/envelope.js";
import { loadRootKey, ROOT_KEY_FILE } from "../crypto/root-key.js";
import { openDatabase } from "../store/db.js";
import { migrateToLatest } from "../store/migrate.js";
import { projectStore } from "../store/projects.js";
import { secretStore } from "../store/secrets.js";
import { projectKeysFactory } from "../core/projects/project-keys.js";
import { secretCodecFactory } from "../core/secrets/secret-codec.js";
import { sealPlaintextReminderNotes, type ReminderNoteSealingReport } from "../core/secrets/seal-reminder-notes.js";
import { buildApp } from "./app.js";
import { createServices, type Services } from "./services.js";
import { setHelperWorkerNice } from "../crypto/helper-workers.js";
import { lowerHelperThreadPriority } from "./thread-priority.js";

export interface ServerOptions {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  encryptionKey?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Ask HTTPS clients for a certificate (never required): mTLS refresh and tls-cert login need it. */
  tlsRequestClientCert?: boolean;
  publicUrl?: string;
  logLevel: string;
  clock: Clock;
  /** Proxies allowed to give the client address (X-Forwarded-For); see AppOptions.trustProxy. */
  trustProxy?: boolean | number | string[];
}

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  address: string;
  /** Reads --tls-cert and --tls-key again and serves new connections with them; false without TLS. */
  reloadTls(): boolean;
  close(): Promise<void>;
}

/**
 * Opens the database, applies migrations, checks the root key against the data, builds the services
 * and starts listening. A mismatched key stops here, before any request is served.
 */
export const startServer = async (o: ServerOptions): Promise<RunningServer> => {
  const { key, created: keyCreated } = loadRootKey(o.encryptionKey, o.dataDir);
  const root = rootKeyring(key);
  // Warnings before the app (and its logger) exists are kept and logged once it does.
  const early: string[] = [];
  let warn = (message: string): void => { early.push(message); };
  const database = openDatabase({ databaseUrl: o.databaseUrl, dataDir: o.dataDir, onConnectionLost: (m) => warn(m) });
  let sealedNotes: ReminderNoteSealingReport | undefined;
  try {
    await migrateToLatest(database.db);
    const check = await database.db.selectFrom("meta").select("value").where("key", "=", "root_key_check").executeTakeFirst();
    if (check) {
      const fp = await database.db.selectFrom("meta").select("value").where("key", "=", "root_key_fingerprint").executeTakeFirst();
      root.verifyCheckValue(check.value, fp?.value);
    } else {
      await database.db.insertInto("meta").values([
        { key: "root_key_check", value: root.checkValue() },
        { key: "root_key_fingerprint", value: root.fingerprint },
      ]).execute();
    }
    // A data migration that needs the project keys (migration 008 only marks it due): only now is the root
    // key known to be the right one, and nothing is served until it is done. A failure stops the start.
    const keys = projectKeysFactory({ root, store: projectStore(database.db) });
    sealedNotes = await sealPlaintextReminderNotes({ store: secretStore(database.db), codec: secretCodecFactory({ keys }) });
  } catch (e) {
    await database.close();
    // A key file made by this very start for data sealed with another key is useless, and left behind it would
    // pass for the key to back up: remove it.
    if (keyCreated) rmSync(join(o.dataDir, ROOT_KEY_FILE), { force: true });
    if (e instanceof EncryptionKeyMismatchError && !o.databaseUrl && existsSync(join(o.dataDir, `${ROOT_KEY_FILE}.next`)))
      throw new EncryptionKeyMismatchError(`${e.message}. ${ROOT_KEY_FILE}.next is there: a \`kms rotate-root-key\` was interrupted; run it again to finish it`);
    throw e;
  }
  // With requestCert, TLS accepts any client certificate (rejectUnauthorized: false): the trusted CAs live in the
  // database and change at run time, so the application checks the certificate itself (core/identity/tls-cert-service.ts).
  const tls = o.tlsCert && o.tlsKey
    ? { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey), ...(o.tlsRequestClientCert ? { requestCert: true, rejectUnauthorized: false } : {}) }
    : undefined;
  const scheme = tls ? "https" : "http";
  const hostForUrl = o.host.includes(":") ? `[${o.host}]` : o.host === "0.0.0.0" ? "127.0.0.1" : o.host;
  let publicUrl = o.publicUrl?.replace(/\/+$/, "") ?? "";
  // Several servers on one PostgreSQL database pass secret changes to each other's change streams.
  const changeRelay = database.channel?.("kms_secret_changes", (m) => warn(m));
  const services = createServices({ db: database.db, root, clock: o.clock, publicUrl: () => publicUrl, changeRelay });
  const app = buildApp(services, {
    logger: { level: o.logLevel, redact: ["req.headers.authorization", "req.headers.cookie"] },
    https: tls,
    trustProxy: o.trustProxy,
  });
  warn = (m) => app.log.warn(m);
  for (const m of early.splice(0)) warn(m);
  if (sealedNotes?.rows) app.log.info(sealedNotes, "reminder notes stored in the clear are now encrypted");
  // Listening before serving: a change made once this server answers reaches its streams.
  await changeRelay?.ready();
  await app.listen({ host: o.host, port: o.port });
  const port = (app.server.address() as { port: number }).port;
  const address = `${scheme}://${hostForUrl}:${port}`;
  if (!publicUrl && (o.host === "0.0.0.0" || o.host === "::"))
    warn(`listening on every address, but certificates will point their CRL, OCSP and CA-issuer URLs at ${address}, which other machines cannot reach: set --public-url`);
  publicUrl ||= address;
  // Background work stops with the server: CRLs are re-signed before their nextUpdate.
  const background = new AbortController();
  void services.crls.runRefresher(background.signal);
  // Expired dynamic-secret leases are revoked whether or not a client asks; stopped before the database closes.
  const sweeper = services.dynamicSecrets.sweeper.start(app.log);
  // Requests to external ACME CAs advance in the background and resume after a restart (state in the database).
  const externalOrders = services.externalOrders.start(app.log);
  // Helper threads (thread pool, GC, checkpointer) yield to the event loop; KMS_HELPER_THREAD_NICE=0 turns it off.
  const nice = Number(process.env.KMS_HELPER_THREAD_NICE ?? 5);
  if (nice > 0) app.log.debug({ threads: await lowerHelperThreadPriority(Math.min(19, nice)) }, "helper threads yield to the event loop");
  setHelperWorkerNice(nice); // the crypto workers (CSR checks, P-256 keys) start later, on first use, and lower themselves
  app.log.info({ database: database.describe, address, publicUrl }, "kms server listening");
  return {
    app, services, address,
    reloadTls: () => {
      if (!o.tlsCert || !o.tlsKey) return false;
      // setSecureContext throws on a key that does not fit the certificate, before anything changes.
      (app.server as import("node:https").Server).setSecureContext({ cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) });
      return true;
    },
    close: async () => {
      background.abort();
      await sweeper.stop();
      await externalOrders.stop();
      await services.acme.stop();
      await app.close();
      await database.close();
    },
  };
};
