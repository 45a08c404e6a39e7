import { z } from "zod";
import type { Sink, SinkDeps } from "./sink.js";
import { createFileSink, FileSinkConfig } from "./file.js";

/**
 * The sink registry: a typed record keyed by `sinks[].type` (STYLE rule 7). A new kind is one file, one
 * member of the union and one entry below; forgetting the entry fails the build.
 */
export const SinkConfig = z.discriminatedUnion("type", [FileSinkConfig], {
  error: (iss) => {
    if (iss.code !== "invalid_union") return undefined;
    const t = (iss.input as { type?: unknown } | undefined)?.type;
    if (t === undefined) return 'is required (one of: "file")';
    return `unknown sink type ${JSON.stringify(t)}; supported: "file"`;
  },
});
export type SinkConfig = z.output<typeof SinkConfig>;

type SinkFactories = { [K in SinkConfig["type"]]: (cfg: Extract<SinkConfig, { type: K }>, deps: SinkDeps) => Promise<Sink> };
const sinkFactories: SinkFactories = { file: createFileSink };

export const createSink = (cfg: SinkConfig, deps: SinkDeps = {}): Promise<Sink> => sinkFactories[cfg.type](cfg, deps);
