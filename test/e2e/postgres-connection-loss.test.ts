import assert from "node:assert/strict";
import { after, test } from "node:test";
import pg from "pg";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";

/**
 * The database ends every connection of a running server (a restart, a failover, an administrator): the
 * server stays up, logs it, and its next requests work on new connections. node-postgres reports an idle
 * pooled connection's end as an 'error' event on the pool; unhandled, it used to kill the server.
 */

let db: ReturnType<typeof createPgDatabase> | undefined;
let server: TestServer | undefined;
after(async () => {
  await server?.cleanup();
  db?.drop();
});

test("PostgreSQL ends all of the server's connections: it keeps serving and says what happened", async (t) => {
  if (!(await needService(t, "postgres"))) return;
  db = createPgDatabase();
  server = await startServer({ databaseUrl: `${db.url}?application_name=kms_conn_loss` });
  const id = await createUaIdentity(server, "survivor");
  // Several logins at once, so that the pool holds more than one idle connection.
  await Promise.all(Array.from({ length: 6 }, () => login(server!.address, id.clientId, id.clientSecret)));

  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    const ended = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'kms_conn_loss'", [db.name]);
    assert.ok(ended.rowCount! >= 2, `ended ${ended.rowCount} connections (pooled ones and the change relay's)`);
  } finally {
    await admin.end();
  }
  await new Promise((r) => setTimeout(r, 500));

  assert.equal(server.proc.exitCode, null, `the server is still running:\n${server.output().slice(-2000)}`);
  assert.equal((await api(server.address, "GET", "/api/status")).status, 200);
  // A request that reads the database (the token check) works on a new connection.
  const r = await api(server.address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId: id.clientId, clientSecret: id.clientSecret } });
  assert.equal(r.status, 200, r.text);
  assert.match(server.output(), /PostgreSQL ended an idle pooled connection: terminating connection due to administrator command; the next query opens a new one/);
});
