import { randomBytes } from "node:crypto";
import type { Actor } from "../actor.js";
import type { ScopeResolver } from "./scope.js";

/**
 * In-process publish/subscribe of committed secret changes, behind GET /api/v1/secrets/events. The
 * secret writer publishes after each committed create/update/delete; subscribers filter by project,
 * environment and folder (optionally with sub-folders). Events name the key and the action, never a
 * value. The last BUFFER_SIZE events are kept so a client that reconnects with Last-Event-ID misses
 * nothing; when it cannot be served from the buffer (too old, or issued by another server process) it is
 * told to `resync`, i.e. read everything again.
 *
 * Several server processes on one PostgreSQL database pass their changes to each other through a relay
 * (store/channels.ts: LISTEN/NOTIFY), so a stream sees every committed change whichever process made it.
 * Event ids stay per process (a change from another process gets an id here when it arrives). When the
 * relay was not receiving for a while, the other processes' changes of that time never arrive, and which
 * they were cannot be known: every open subscription is told to `resync` once the relay receives again,
 * and so is a client that reconnects with an id from before that moment.
 */

export type SecretChangeAction = "created" | "updated" | "deleted";

export interface SecretChange {
  projectId: string;
  environment: string;
  secretPath: string;
  secretKey: string;
  action: SecretChangeAction;
  /** Set when an update renamed the secret. */
  newSecretKey?: string;
}

export interface SecretChangeEvent extends SecretChange {
  /** `<epoch>-<sequence>`: the epoch changes with every server process. */
  id: string;
}

export interface ChangeFilter {
  projectId: string;
  environment: string;
  secretPath: string;
  recursive: boolean;
}

export const BUFFER_SIZE = 1024;

export const matches = (f: ChangeFilter, c: SecretChange): boolean =>
  c.projectId === f.projectId &&
  c.environment === f.environment &&
  (c.secretPath === f.secretPath || (f.recursive && (f.secretPath === "/" || c.secretPath.startsWith(`${f.secretPath}/`))));

/** What a subscriber hears: each matching change, and `resync` (with the id it takes in the stream) when changes may have been missed. */
export interface Listener {
  change(e: SecretChangeEvent): void;
  resync(id: string): void;
}

export interface Subscription {
  /** Normalised filter actually applied (path as the server spells it). */
  filter: ChangeFilter;
  /** Missed events replayed from Last-Event-ID, or "resync" when they cannot be. */
  backlog: SecretChangeEvent[] | "resync";
  /** Id of the newest event at subscription time: a reconnect from here misses nothing. */
  lastId: string;
  close(): void;
}

/** How changes travel between server processes: `send` every local change, `onMessage` the others'. */
export interface ChangeRelay {
  send(message: string): void;
  onMessage(fn: (message: string) => void): void;
  /** Called when the relay receives again after a time it did not: the others' messages of that time are lost. */
  onResumed(fn: (deafSince: Date) => void): void;
}

type Deps = { scopes: Pick<ScopeResolver, "resolve">; relay?: ChangeRelay };

export const secretChangeFeedFactory = ({ scopes, relay }: Deps) => {
  const epoch = randomBytes(6).toString("base64url");
  let seq = 0;
  const buffer: SecretChangeEvent[] = [];
  const listeners = new Set<{ filter: ChangeFilter; fn: Listener }>();
  // Sequence number of the latest resync: a client whose last event precedes it may have missed changes.
  let resyncSeq = 0;

  /** Called by the secret writer after the change is committed. Never throws into the caller. */
  const publish = (change: SecretChange): void => {
    deliver(change);
    try {
      relay?.send(JSON.stringify({ origin: epoch, change }));
    } catch {
      // The other processes' agents still poll: a lost relay message delays their push, nothing else.
    }
  };

  // Changes other processes committed: the same as ours from here on (our own come back too, and are skipped).
  relay?.onMessage((message) => {
    try {
      const m = JSON.parse(message) as { origin?: string; change?: SecretChange };
      if (m.origin === epoch || !m.change || typeof m.change.projectId !== "string") return;
      const { projectId, environment, secretPath, secretKey, action, newSecretKey } = m.change;
      deliver({ projectId, environment, secretPath, secretKey, action, ...(newSecretKey !== undefined && { newSecretKey }) });
    } catch {
      // Not one of ours: ignore.
    }
  });

  // The resync takes a sequence number of its own, so that a client which saw it (its Last-Event-ID is that
  // id or later) is not told again on reconnect, and one which did not (an older id) is.
  relay?.onResumed(() => {
    resyncSeq = ++seq;
    const id = `${epoch}-${resyncSeq}`;
    for (const l of listeners) {
      try {
        l.fn.resync(id);
      } catch {
        // One broken stream must not keep the others from hearing it.
      }
    }
  });

  const deliver = (change: SecretChange): void => {
    const e: SecretChangeEvent = { ...change, id: `${epoch}-${++seq}` };
    buffer.push(e);
    if (buffer.length > BUFFER_SIZE) buffer.shift();
    for (const l of listeners) {
      if (!matches(l.filter, e)) continue;
      try {
        l.fn.change(e);
      } catch {
        // A broken stream must not fail the write that published.
      }
    }
  };

  const backlogSince = (lastEventId: string | undefined, filter: ChangeFilter): SecretChangeEvent[] | "resync" => {
    if (lastEventId === undefined) return [];
    const m = /^(.+)-(\d+)$/.exec(lastEventId);
    if (!m || m[1] !== epoch) return "resync";
    const since = Number(m[2]);
    if (since > seq || since < resyncSeq) return "resync";
    const oldest = buffer[0] ? Number(buffer[0].id.split("-").pop()) : seq + 1;
    // Events after `since` that have already left the buffer cannot be replayed.
    if (since + 1 < oldest && since < seq) return "resync";
    return buffer.filter((e) => Number(e.id.split("-").pop()) > since && matches(filter, e));
  };

  /**
   * Checks the caller may read the folder (project `viewer`; the environment must exist), then
   * subscribes. The folder itself need not exist yet: a template may wait for it.
   */
  const subscribe = async (actor: Actor, req: { projectId: string; environment: string; secretPath?: string; recursive: boolean; lastEventId?: string }, fn: Listener): Promise<Subscription> => {
    const scope = await scopes.resolve(actor, { projectId: req.projectId, environment: req.environment, path: req.secretPath, pathField: "secretPath" }, "viewer");
    const filter: ChangeFilter = { projectId: scope.project.id, environment: scope.env.slug, secretPath: scope.path, recursive: req.recursive };
    const entry = { filter, fn };
    listeners.add(entry);
    return { filter, backlog: backlogSince(req.lastEventId, filter), lastId: `${epoch}-${seq}`, close: () => listeners.delete(entry) };
  };

  return { publish, subscribe, subscriberCount: () => listeners.size };
};
export type SecretChangeFeed = ReturnType<typeof secretChangeFeedFactory>;
