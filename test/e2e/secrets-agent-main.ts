// Runs `kms agent` for end-to-end tests without depending on how src/cli/main.ts wires its commands:
// the same Command object, parsed the same way.
import { Command } from "commander";
import { agentCommand } from "../../src/cli/agent.js";

await new Command("kms").addCommand(agentCommand()).parseAsync(process.argv);
