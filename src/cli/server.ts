import { Command, Option } from "commander";
import { systemClock } from "../core/clock.js";
import { startServer } from "../server/start.js";

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
    .addOption(new Option("--log-level <level>", "fatal|error|warn|info|debug").env("KMS_LOG_LEVEL").default("info"))
    .action(async (o) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: "${o.port}" is not a port number`);
      if (!!o.tlsCert !== !!o.tlsKey) fail("--tls-cert and --tls-key go together");
      if (o.tlsRequestClientCert && !o.tlsCert) fail("--tls-request-client-cert needs HTTPS: give --tls-cert and --tls-key");
      let server;
      try {
        server = await startServer({
          host: o.host, port, dataDir: o.dataDir, databaseUrl: o.databaseUrl, encryptionKey: process.env.KMS_ENCRYPTION_KEY,
          tlsCert: o.tlsCert, tlsKey: o.tlsKey, tlsRequestClientCert: !!o.tlsRequestClientCert, publicUrl: o.publicUrl, logLevel: o.logLevel, clock: systemClock,
        });
      } catch (e) {
        fail((e as Error).message);
      }
      // Machines and tests read this line to learn the address (port 0 picks a free port).
      process.stdout.write(`kms server listening on ${server!.address}\n`);
      let closing = false;
      const shutdown = async (signal: string) => {
        if (closing) return;
        closing = true;
        server!.app.log.info({ signal }, "shutting down");
        await server!.close();
        process.exit(0);
      };
      process.on("SIGTERM", () => void shutdown("SIGTERM"));
      process.on("SIGINT", () => void shutdown("SIGINT"));
    });

const fail = (message: string): never => {
  process.stderr.write(`kms server: ${message}\n`);
  process.exit(1);
};
