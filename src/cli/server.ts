import { Command, Option } from "commander";
import { systemClock } from "../core/clock.js";
import { isIP } from "node:net";
import { startServer } from "../server/start.js";
import { isPostgresUrl } from "../store/db.js";

export const serverCommand = (): Command =>
  new Command("server")
    .description("run the KMS server (embedded SQLite by default, PostgreSQL with a postgres:// URL)")
    .addOption(new Option("--host <host>", "address to listen on").env("KMS_HOST").default("127.0.0.1"))
    .addOption(new Option("--port <port>", "port to listen on (0 picks a free one)").env("KMS_PORT").default("8080"))
    .addOption(new Option("--data-dir <dir>", "data directory (SQLite database, root key file)").env("KMS_DATA_DIR").default("./.kms-data"))
    .addOption(new Option("--database-url <url>", "postgres://… selects PostgreSQL; otherwise embedded SQLite").env("KMS_DATABASE_URL"))
    .addOption(new Option("--tls-cert <file>", "serve HTTPS with this certificate (PEM)").env("KMS_TLS_CERT"))
    .addOption(new Option("--tls-key <file>", "private key for --tls-cert (PEM)").env("KMS_TLS_KEY"))
    .addOption(new Option("--tls-request-client-cert", "ask HTTPS clients for a certificate (optional for them); needed for renewal with the certificate held and tls-cert login").env("KMS_TLS_REQUEST_CLIENT_CERT"))
    .addOption(new Option("--public-url <url>", "base URL clients reach this server at (used in CRL and AIA URLs)").env("KMS_PUBLIC_URL"))
    .addOption(new Option("--log-level <level>", "how much to log").choices(LOG_LEVELS).env("KMS_LOG_LEVEL").default("info"))
    .addOption(new Option("--trust-proxy <proxies>", "take the client address from X-Forwarded-For when the request comes through these proxies: addresses or CIDR ranges (comma-separated), a hop count, or \"true\" for any (only behind a proxy that sets the header)").env("KMS_TRUST_PROXY"))
    .action(async (o) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: "${o.port}" is not a port number`);
      if (!!o.tlsCert !== !!o.tlsKey) fail("--tls-cert and --tls-key go together");
      if (o.tlsRequestClientCert && !o.tlsCert) fail("--tls-request-client-cert needs HTTPS: give --tls-cert and --tls-key");
      // Anything but a PostgreSQL URL would otherwise fall back to SQLite, and a typo in a cluster would leave each
      // server on a database of its own.
      if (o.databaseUrl !== undefined && !isPostgresUrl(o.databaseUrl))
        fail(`--database-url: only postgres:// (or postgresql://) URLs are supported; leave it out for the embedded SQLite database`);
      const trustProxy = o.trustProxy === undefined ? undefined : parseTrustProxy(o.trustProxy);
      let server;
      try {
        server = await startServer({
          host: o.host, port, dataDir: o.dataDir, databaseUrl: o.databaseUrl, encryptionKey: process.env.KMS_ENCRYPTION_KEY,
          tlsCert: o.tlsCert, tlsKey: o.tlsKey, tlsRequestClientCert: !!o.tlsRequestClientCert, publicUrl: o.publicUrl, logLevel: o.logLevel, clock: systemClock, trustProxy,
        });
      } catch (e) {
        fail((e as Error).message);
      }
      let closing = false;
      const shutdown = async (signal: string) => {
        if (closing) return;
        closing = true;
        server!.app.log.info({ signal }, "shutting down");
        await server!.close();
        process.exit(0);
      };
      process.on("SIGTERM", () => void shutdown("SIGTERM"));
      // SIGHUP re-reads the TLS certificate and key (a renewed server certificate without a restart); a file that
      // cannot be read or does not fit keeps the one in use.
      process.on("SIGHUP", () => {
        try {
          if (server!.reloadTls()) server!.app.log.info("TLS certificate reloaded");
          else server!.app.log.info("SIGHUP: nothing to reload (no --tls-cert)");
        } catch (e) {
          server!.app.log.error({ error: (e as Error).message }, "TLS certificate not reloaded; the one in use stays");
        }
      });
      process.on("SIGINT", () => void shutdown("SIGINT"));
      // Machines and tests read this line to learn the address (port 0 picks a free port), and may stop the
      // server the moment they see it: the signal handlers above are in place before it is written.
      process.stdout.write(`kms server listening on ${server!.address}\n`);
    });

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];

/** --trust-proxy: "true", a hop count, or addresses and CIDR ranges. */
const parseTrustProxy = (v: string): boolean | number | string[] => {
  if (v === "true") return true;
  if (v === "false") return false;
  if (/^\d+$/.test(v)) return Number(v);
  const list = v.split(",").map((x) => x.trim()).filter(Boolean);
  for (const x of list) {
    const [ip, bits, extra] = x.split("/");
    if (isIP(ip!) === 0 || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (isIP(ip!) === 4 ? 32 : 128))))
      fail(`--trust-proxy: "${x}" is not an IP address or CIDR range (or give "true" or a hop count)`);
  }
  return list;
};

const fail = (message: string): never => {
  process.stderr.write(`kms server: ${message}\n`);
  process.exit(1);
};
