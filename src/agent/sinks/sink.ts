/**
 * Where the agent deposits its access token (Vault agent's Sink, one method). Everything a sink needs
 * beyond writing one value (latest-token-wins, retry, emptying on shutdown) lives once, in the runner
 * (agent/secrets/token-sinks.ts), so a new kind of sink is one small file.
 */
export interface Sink {
  /** For log lines, e.g. `file:/run/kms/token`. */
  readonly name: string;
  /** Replaces the sink's content with `token`; an empty string empties it (revoke-credentials-on-shutdown). */
  write(token: string): Promise<void>;
}

export interface SinkDeps {
  /** Fails when the sink's location cannot be written; default: the filesystem check of agent/files.ts. */
  assertWritable?: (path: string) => Promise<void>;
}
