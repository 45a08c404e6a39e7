// `kms template render FILE [--data data.json] [--address URL]`: preview of an agent template. Wiring
// only: the engine is src/template. With --address (and the token in KMS_TOKEN) the agent's secret
// functions work live (src/agent/secrets/preview.ts).
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { Command } from "commander";
import { jsonData } from "../template/encoding.js";
import type { FuncMap } from "../template/funcs.js";
import { sprigFuncs } from "../template/sprig.js";
import { Template } from "../template/template.js";
import { livePreviewFuncs, offlinePreviewFuncs } from "../agent/secrets/preview.js";

export interface RenderOptions {
  /** JSON file whose value becomes dot; without it dot is an empty map. */
  dataFile?: string;
  /** Functions added after Sprig's (e.g. the agent's secret lookups); they may return Promises. */
  extraFuncs?: FuncMap;
  /** Clock for Sprig's now and date, in milliseconds since the epoch. */
  now?: () => number;
}

/**
 * Renders a template file like the agent does: Go's text/template with Sprig, named after the file
 * (as Go's ParseFiles names it). Throws ParseError or ExecError with Go's message.
 */
export const renderTemplateFile = async (file: string, opts: RenderOptions = {}): Promise<string> => {
  const text = await readInput(file, "template file");
  let data: unknown = {};
  if (opts.dataFile !== undefined) {
    const json = await readInput(opts.dataFile, "--data file");
    try {
      data = jsonData(json);
    } catch (e) {
      throw new InputError(`--data file ${JSON.stringify(opts.dataFile)} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const t = new Template(basename(file)).funcs(sprigFuncs({ now: opts.now }));
  if (opts.extraFuncs) t.funcs(opts.extraFuncs);
  return t.parse(text).execute(data);
};

/** A file the command was given cannot be used: the command line is wrong, not the template (exit 2). */
export class InputError extends Error {}

const readInput = async (file: string, what: string): Promise<string> => {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a directory" : `cannot be read (${code ?? (e as Error).message})`;
    throw new InputError(`${what} ${JSON.stringify(file)} ${why}`);
  }
};

export interface TemplateCommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  setExitCode: (code: number) => void;
}

const processIO: TemplateCommandIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

export const templateCommand = (extraFuncs?: FuncMap, io: TemplateCommandIO = processIO): Command => {
  const cmd = new Command("template").description("Go text/template tools (the agent's template engine)");
  cmd
    .command("render")
    .description("render a template offline with Sprig functions; --data gives the JSON value for dot")
    .argument("<file>", "template file")
    .option("--data <file>", "JSON file used as the template's data (dot)")
    .option("--address <url>", "KMS address: the secret functions read live secrets with the token in KMS_TOKEN")
    .action(async (file: string, o: { data?: string; address?: string }) => {
      let live: ReturnType<typeof livePreviewFuncs> | undefined;
      try {
        if (o.address) {
          const token = process.env.KMS_TOKEN;
          if (!token) {
            io.stderr("--address needs an access token in KMS_TOKEN\n");
            io.setExitCode(2);
            return;
          }
          live = livePreviewFuncs(o.address, token);
        }
        // Offline, the agent's functions still exist (a template using them parses) and say they need --address when called.
        const funcs = live ? { ...extraFuncs, ...live.funcs } : { ...offlinePreviewFuncs(), ...extraFuncs };
        io.stdout(await renderTemplateFile(file, { dataFile: o.data, extraFuncs: funcs }));
      } catch (e) {
        const message = (e as Error).message;
        io.stderr(`${live ? live.redact(message) : message}\n`);
        io.setExitCode(e instanceof InputError ? 2 : 1);
      } finally {
        await live?.close();
      }
    });
  return cmd;
};
