import { Command } from "commander";

/**
 * Each command is loaded only when it runs: an agent on every machine should not load the server's web
 * framework, database drivers and PKI engine. `kms --help` loads them all to list them; `kms --version` none.
 */
const commands: Record<string, () => Promise<Command>> = {
  dev: async () => (await import("./dev.js")).devCommand(),
  server: async () => (await import("./server.js")).serverCommand(),
  bootstrap: async () => (await import("./bootstrap.js")).bootstrapCommand(),
  backup: async () => (await import("./backup.js")).backupCommand(),
  "rotate-root-key": async () => (await import("./rotate-root-key.js")).rotateRootKeyCommand(),
  "cert-manager": async () => (await import("./cert-agent.js")).certManagerCommand(),
  template: async () => (await import("./template.js")).templateCommand(),
  agent: async () => (await import("./agent.js")).agentCommand(),
  svccert: async () => (await import("./svccert.js")).svccertCommand(),
  pki: async () => (await import("./pki.js")).pkiCommand(),
};

const program = new Command("kms")
  .description("KMS: key-management server and the agent that keeps certificates, tokens and secret files fresh")
  .version("0.1.0")
  .showHelpAfterError();

const wanted = process.argv[2];

// A one-shot command piped into a reader that stops early (`kms pki cert list | head`) ends quietly, as
// Unix tools do, instead of an unhandled EPIPE stack trace. Long-running commands keep their own handling.
if (!["server", "agent", "cert-manager", "dev"].includes(wanted ?? "")) {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => { if (e.code === "EPIPE") process.exit(0); else throw e; });
}
const load = wanted && Object.hasOwn(commands, wanted) ? [commands[wanted]!] : wanted === "--version" || wanted === "-V" ? [] : Object.values(commands);
for (const command of await Promise.all(load.map((l) => l()))) program.addCommand(command);

await program.parseAsync(process.argv);
