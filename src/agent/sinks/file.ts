import { z } from "zod";
import { assertWritableDir, parseMode, writeFileAtomic } from "../files.js";
import type { Sink, SinkDeps } from "./sink.js";

/**
 * The file sink: the token replaces the file atomically (temp file, fsync, chmod, rename), with the
 * configured permission enforced on every write. Upstream writes sinks 0644 and applies a mode only when
 * it creates the file (DESIGN.md, known defects); ours defaults to 0600 and corrects an existing file.
 */
export const DEFAULT_SINK_MODE = 0o600;

/** An octal permission written as "0640", 0640 (kept as text by config/yaml.ts) or "0o640". */
export const permissionSchema = z.union([z.string(), z.number()], { error: 'expected an octal permission such as "0600"' }).transform((v, ctx) => {
  const m = parseMode(v);
  if (m === undefined) {
    ctx.addIssue({ code: "custom", message: `invalid permission ${JSON.stringify(v)}: expected octal digits such as "0600"` });
    return z.NEVER;
  }
  return m;
});

export const FileSinkConfig = z.strictObject({
  type: z.literal("file"),
  config: z.strictObject({
    path: z.string().trim().min(1, "must not be empty"),
    permission: permissionSchema.default(DEFAULT_SINK_MODE),
  }),
});
export type FileSinkConfig = z.output<typeof FileSinkConfig>;

export const createFileSink = async (cfg: FileSinkConfig, deps: SinkDeps = {}): Promise<Sink> => {
  const { path, permission } = cfg.config;
  // A bad path fails at start, not at the first token (STYLE rule 10).
  await (deps.assertWritable ?? assertWritableDir)(path);
  return {
    name: `file:${path}`,
    write: (token) => writeFileAtomic(path, token, { mode: permission }),
  };
};
