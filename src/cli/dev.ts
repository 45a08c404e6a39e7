import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { Command, Option } from "commander";
import { systemClock } from "../core/clock.js";
import { startServer } from "../server/start.js";
import { DataDirInUseError } from "../store/db.js";
import { provisionDemo } from "../dev/demo.js";
import { demoAgentConfig } from "../dev/agent-config.js";
import { loadCertAgentConfig } from "../config/cert-agent.js";
import { formatProblems } from "../config/yaml.js";
import { createLogger } from "../agent/log.js";
import { startCertAgent } from "../agent/cert/runner.js";

/**
 * `kms dev`: an embedded server on SQLite, a demo project with a root and an intermediate CA, a policy,
 * a profile and an agent identity, and the certificate agent in the foreground issuing and renewing a
 * real certificate. Everything lives in one directory and is reused by the next run.
 */
export const devCommand = (): Command =>
  new Command("dev")
    .description("one command to try KMS: embedded server + demo PKI + the certificate agent, in ./.kms-dev")
    .addOption(new Option("--dir <dir>", "where the server data, agent config and certificates go").default("./.kms-dev"))
    .addOption(new Option("--host <host>", "address the embedded server listens on").default("127.0.0.1"))
    .addOption(new Option("--port <port>", "port of the embedded server (0 picks a free one)").env("KMS_PORT").default("8080"))
    .action(async (o) => {
      const dir = resolve(o.dir);
      const rel = (p: string) => relative(process.cwd(), p) || ".";
      let server;
      try {
        server = await startServer({
          host: o.host, port: Number(o.port), dataDir: join(dir, "server"), logLevel: "warn", clock: systemClock,
          encryptionKey: process.env.KMS_ENCRYPTION_KEY,
        });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        const why = err.code === "EADDRINUSE" ? `port ${o.port} is in use: pass --port 0 (any free port) or another port`
          : e instanceof DataDirInUseError ? `${rel(dir)} is in use by another kms dev or kms server${e.pid ? ` (pid ${e.pid})` : ""}: stop it first, or give this one its own --dir`
          : err.message;
        process.stderr.write(`kms dev: cannot start the server: ${why}\n`);
        process.exit(1);
      }
      const stopServer = () => server!.close().catch(() => undefined);

      let demo;
      try {
        demo = await provisionDemo(server!.services, dir);
      } catch (e) {
        process.stderr.write(`kms dev: ${(e as Error).message}\n`);
        await stopServer();
        process.exit(1);
      }

      // The config is written once: edit it and run `kms dev` again to try other settings.
      const configFile = join(dir, "agent.yaml");
      const wanted = demoAgentConfig({ address: server!.address, dir, clientIdFile: demo.clientIdFile, clientSecretFile: demo.clientSecretFile });
      if (!existsSync(configFile)) writeFileSync(configFile, wanted, { mode: 0o600 });
      let text = readFileSync(configFile, "utf8");
      // A different port this time: point the existing config at this run's server.
      text = text.replace(/^(\s*address:\s*)"[^"]*"/m, `$1"${server!.address}"`);
      const loaded = loadCertAgentConfig(text);
      if (!loaded.ok) {
        process.stderr.write(`kms dev: ${rel(configFile)} has problems:\n${formatProblems(loaded.problems, rel(configFile))}\n`);
        await stopServer();
        process.exit(2);
      }

      const certs = join(dir, "certs");
      process.stdout.write(
        [
          "",
          `KMS dev server   ${server!.address}   (data in ${rel(join(dir, "server"))})`,
          `admin token      in ${rel(join(dir, "dev.json"))} (adminToken): export KMS_TOKEN=$(jq -r .adminToken ${rel(join(dir, "dev.json"))})`,
          `demo project     ${demo.projectSlug}, profile ${demo.profileSlug}, root CA ${rel(demo.rootCaFile)}`,
          `agent config     ${rel(configFile)}   (run it yourself: kms cert-manager agent --config ${rel(configFile)})`,
          `certificate      ${rel(join(certs, "web.crt"))}, key ${rel(join(certs, "web.key"))}, chain ${rel(join(certs, "web-chain.crt"))}`,
          "",
          "Inspect it:",
          `  openssl x509 -in ${rel(join(certs, "web.crt"))} -noout -subject -serial -dates -ext subjectAltName`,
          `  openssl verify -CAfile ${rel(demo.rootCaFile)} -untrusted ${rel(join(certs, "web-chain.crt"))} ${rel(join(certs, "web.crt"))}`,
          "",
          "The certificate lives 2 minutes and is renewed 1 minute before it expires. Ctrl-C stops everything.",
          "",
        ].join("\n"),
      );

      const logger = createLogger({ format: "text", level: "info" });
      const agent = startCertAgent(loaded.value, { logger, stateDir: join(dir, "agent") });
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        await agent.stop();
        await stopServer();
        process.exit(0);
      };
      process.on("SIGINT", () => void stop());
      process.on("SIGTERM", () => void stop());
      await agent.done;
      await stop();
    });
