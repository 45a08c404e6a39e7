import pg from "pg";

/**
 * A message channel between the server processes that share one PostgreSQL database: NOTIFY to send,
 * LISTEN on a connection of its own to receive (every process, the sender included, receives each message).
 * Delivery is best effort, as NOTIFY's is: a message sent while a listener is reconnecting is not seen by
 * it. Payloads must stay under PostgreSQL's 8,000 bytes. Used for the secret change stream
 * (core/secrets/change-feed.ts), whose clients poll as well, so nothing depends on every message arriving.
 */
export interface Channel {
  send(message: string): void;
  onMessage(fn: (message: string) => void): void;
  /** Resolves once the first attempt to LISTEN is over: in place (messages sent after it are seen) or failed (reported, retried). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export const postgresChannel = (pool: pg.Pool, connectionString: string, name: string, onError: (message: string) => void): Channel => {
  const handlers: ((message: string) => void)[] = [];
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let delayMs = 1_000;
  let listening!: () => void;
  const firstListen = new Promise<void>((resolve) => { listening = resolve; });

  const reconnectLater = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => { retry = undefined; void connect(); }, delayMs);
    retry.unref();
    delayMs = Math.min(delayMs * 2, 30_000);
  };

  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({ connectionString });
    let dropped = false;
    const drop = (why?: string) => {
      if (dropped) return;
      dropped = true;
      if (why && !stopped) onError(`channel ${name}: ${why}; listening again shortly`);
      if (client === c) client = undefined;
      c.end().catch(() => undefined);
      reconnectLater();
    };
    c.on("notification", (n) => {
      if (n.channel !== name || n.payload === undefined) return;
      for (const h of handlers) h(n.payload);
    });
    c.on("error", (e) => drop(e.message));
    c.on("end", () => drop(stopped ? undefined : "connection closed"));
    try {
      await c.connect();
      // The name is ours (a constant), never input: quoted as an identifier all the same.
      await c.query(`LISTEN "${name.replaceAll('"', '""')}"`);
      if (stopped) return void c.end().catch(() => undefined);
      client = c;
      delayMs = 1_000;
      listening();
    } catch (e) {
      drop((e as Error).message);
      listening();
    }
  };
  void connect();

  return {
    send: (message) => {
      pool.query("SELECT pg_notify($1, $2)", [name, message]).catch((e: Error) => onError(`channel ${name}: ${e.message}`));
    },
    onMessage: (fn) => { handlers.push(fn); },
    ready: () => firstListen,
    close: async () => {
      stopped = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
};
