import { Command } from "commander";
import { serverCommand } from "./server.js";
import { devCommand } from "./dev.js";
import { bootstrapCommand } from "./bootstrap.js";
import { certManagerCommand } from "./cert-agent.js";
import { templateCommand } from "./template.js";
import { agentCommand } from "./agent.js";
import { svccertCommand } from "./svccert.js";
import { pkiCommand } from "./pki.js";

const program = new Command("kms")
  .description("KMS: key-management server and the agent that keeps certificates, tokens and secret files fresh")
  .version("0.1.0")
  .showHelpAfterError();

program.addCommand(devCommand());
program.addCommand(serverCommand());
program.addCommand(bootstrapCommand());
program.addCommand(certManagerCommand());
program.addCommand(templateCommand());
program.addCommand(agentCommand());
program.addCommand(svccertCommand());
program.addCommand(pkiCommand());

await program.parseAsync(process.argv);
