import pg from "pg";

/**
 * A message channel between the server processes that share one PostgreSQL database: NOTIFY to send,
 * LISTEN on a connection of its own to receive (every process, the sender included, receives each message).
 * A message sent while a listener is not listening (its connection lost and being re-established, or its
 * first LISTEN failed) is never seen by it, as NOTIFY keeps nothing for absent listeners; the listener
 * cannot tell which messages it missed, only that it may have, so it says so through `onResumed` once it
 * listens again. A send that fails is retried, in order, until it goes through (or the channel closes, or
 * 10,000 wait); each failure is reported (`onError`). close() sends what still waits first, for up to 2 s.
 * Payloads must stay under PostgreSQL's 8,000 bytes.
 * Used for the secret change stream (core/secrets/change-feed.ts).
 */
export interface Channel {
  send(message: string): void;
  onMessage(fn: (message: string) => void): void;
  /**
   * `fn` runs each time LISTEN is in place again after a time without it (a lost connection, or a failed
   * first attempt): messages sent in that gap were missed. `deafSince` is when the loss was noticed (or
   * the channel opened, when the first attempt failed); the connection may have died a little earlier,
   * so it dates the gap for the log, it does not bound it. Messages sent after `fn` runs are seen.
   */
  onResumed(fn: (deafSince: Date) => void): void;
  /** Resolves once the first attempt to LISTEN is over: in place (messages sent after it are seen) or failed (reported, retried). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

const SEND_RETRY_MS = 200;
/** How long close() keeps sending what waits, while the database answers, before it gives the rest up. */
const CLOSE_FLUSH_MS = 2_000;
/** Messages waiting while the database is away; past this the oldest go (a secret change is ~200 bytes). */
const OUTBOX_LIMIT = 10_000;

export interface ChannelOptions {
  /**
   * How often the LISTEN connection is asked whether it is alive, and how long an answer may take. A connection
   * dropped silently (a NAT or firewall forgetting an idle flow) raises no error and carries no traffic while
   * idle, so without asking, the channel would stay deaf without knowing it.
   */
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
}

export const postgresChannel = (
  pool: pg.Pool, connectionString: string, name: string, onError: (message: string) => void,
  { probeIntervalMs = 30_000, probeTimeoutMs = 10_000 }: ChannelOptions = {},
): Channel => {
  const handlers: ((message: string) => void)[] = [];
  const resumedHandlers: ((deafSince: Date) => void)[] = [];
  // Undefined while LISTEN is in place. Deaf from the start: a first attempt that fails leaves a gap too.
  let deafSince: Date | undefined = new Date();
  let attempts = 0;
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

  // The name is ours (a constant), never input: quoted as an identifier all the same.
  const listen = `LISTEN "${name.replaceAll('"', '""')}"`;

  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({ connectionString, keepAlive: true });
    const first = attempts++ === 0;
    let dropped = false;
    let probe: NodeJS.Timeout | undefined;
    const drop = (why?: string) => {
      if (dropped) return;
      dropped = true;
      clearInterval(probe);
      deafSince ??= new Date();
      if (why && !stopped) onError(`channel ${name}: ${why}; listening again shortly`);
      if (client === c) client = undefined;
      c.end().catch(() => undefined);
      // end() waits for the server to close; a dead peer never does, so the socket is destroyed (pg has no API for it).
      setTimeout(() => (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy(), 1_000).unref();
      reconnectLater();
    };
    /** LISTEN again (a no-op for PostgreSQL) as the liveness check: pg_stat_activity keeps showing the LISTEN. */
    let checking = false;
    const checkAlive = () => {
      if (checking) return;
      checking = true;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer to a liveness check within ${probeTimeoutMs} ms`)), probeTimeoutMs);
      });
      Promise.race([c.query(listen), late]).then(
        () => { clearTimeout(timer); checking = false; },
        (e: Error) => { clearTimeout(timer); drop(e.message); },
      );
    };
    c.on("notification", (n) => {
      if (n.channel !== name || n.payload === undefined) return;
      for (const h of handlers) h(n.payload);
    });
    c.on("error", (e) => drop(e.message));
    c.on("end", () => drop(stopped ? undefined : "connection closed"));
    try {
      await c.connect();
      await c.query(listen);
      if (stopped) return void c.end().catch(() => undefined);
      // Lost already (an error between LISTEN's answer and here): still deaf, and a reconnect is due.
      if (dropped) return listening();
      client = c;
      delayMs = 1_000;
      probe = setInterval(checkAlive, probeIntervalMs);
      probe.unref();
      const since = deafSince;
      deafSince = undefined;
      // The first attempt succeeding leaves no gap: the server serves only once it is over (start.ts).
      if (!first && since) {
        // Closes the warning the loss logged: the gap is over, and its start is what an operator needs.
        onError(`channel ${name}: listening again; messages sent since ${since.toISOString()} (or a little earlier) were missed`);
        for (const h of resumedHandlers) {
          try {
            h(since);
          } catch (e) {
            onError(`channel ${name}: ${(e as Error).message}`);
          }
        }
      }
      listening();
    } catch (e) {
      drop((e as Error).message);
      listening();
    }
  };
  void connect();

  // Sends go out one at a time, in order. One that fails (the database went away between a commit and its
  // NOTIFY) is retried with backoff rather than lost: late beats never, and a repeat is harmless to listeners
  // that may have got it after all. Only what is still waiting when the outbox overflows or the channel
  // closes is dropped, and that is reported.
  const outbox: string[] = [];
  let running: Promise<void> | undefined;
  let closing = false;
  let sendRetry: NodeJS.Timeout | undefined;
  let sendDelayMs = SEND_RETRY_MS;
  /** Sends what waits; the promise of the pass under way, if one is. */
  const drain = (): Promise<void> => {
    if (running || sendRetry) return running ?? Promise.resolve();
    running = (async () => {
      try {
        while (outbox.length && !stopped) {
          try {
            await pool.query("SELECT pg_notify($1, $2)", [name, outbox[0]]);
            outbox.shift();
            sendDelayMs = SEND_RETRY_MS;
          } catch (e) {
            // While closing, close() reports what is left; nothing is tried again.
            if (stopped || closing) return;
            onError(`channel ${name}: ${(e as Error).message}; ${outbox.length} message(s) wait, sending again in ${sendDelayMs} ms`);
            sendRetry = setTimeout(() => { sendRetry = undefined; void drain(); }, sendDelayMs);
            sendRetry.unref();
            sendDelayMs = Math.min(sendDelayMs * 2, 10_000);
            return;
          }
        }
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  return {
    send: (message) => {
      if (stopped) return;
      outbox.push(message);
      if (outbox.length > OUTBOX_LIMIT) {
        outbox.splice(0, outbox.length - OUTBOX_LIMIT);
        onError(`channel ${name}: more than ${OUTBOX_LIMIT} messages wait to be sent; the oldest was dropped`);
      }
      void drain();
    },
    onMessage: (fn) => { handlers.push(fn); },
    onResumed: (fn) => { resumedHandlers.push(fn); },
    ready: () => firstListen,
    close: async () => {
      // A graceful stop sends what still waits first (the changes committed just before it), so other servers'
      // agents hear of them now rather than at their next poll; a database that does not answer gets
      // CLOSE_FLUSH_MS, then the rest is given up and reported.
      closing = true;
      clearTimeout(sendRetry);
      sendRetry = undefined;
      let timer: NodeJS.Timeout | undefined;
      const flushed = (async () => { await running; await drain(); })();
      await Promise.race([flushed, new Promise((r) => { timer = setTimeout(r, CLOSE_FLUSH_MS); })]);
      clearTimeout(timer);
      stopped = true;
      clearTimeout(retry);
      if (outbox.length) onError(`channel ${name}: closing with ${outbox.length} message(s) not sent`);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
};
