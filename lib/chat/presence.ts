import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Bus } from '../events/bus.ts';
import type { Db } from '../store/db.ts';
import { dialectOf } from '../store/dialect.ts';
import { insertEvent } from '../store/events.ts';
import {
  countLiveHolds,
  holdPresence,
  releasePresence,
  removeNode,
  selectOrphanedOnlineUserIds,
  touchNode,
  updatePresence,
} from '../store/presence.ts';

export type Transport = 'stream' | 'poll';

/**
 * Who is online. A user is online while any of their connections is open — an SSE stream or a
 * waiting poll, from any device — and for a while after the last one ends: `windowMs` after a poll
 * (a polling client is between requests most of the time), `graceMs` after a stream (a quick
 * reconnect is not a transition). Only transitions are announced, as `presence.updated` to the
 * user and everyone who shares a conversation with them, and written to the user's row, which is
 * where User objects read `presence` and `lastSeenAt` from.
 *
 * This is the whole interface the event routes use. Each node counts its own connections in
 * memory and records in the database which users it holds; a user is online while any live node
 * holds them, so connections on every node count.
 */
export interface Presence {
  /** A connection opened; call the returned function once when it ends. */
  connected(userId: number, transport: Transport): () => void;
  stop(): Promise<void>;
}

interface UserState {
  connections: number;
  /** Whether this node holds the user online (has told the others so). */
  held: boolean;
  /** When the last connection ended. */
  lastSeenAt: string | null;
  timer: NodeJS.Timeout | undefined;
}

/** Presence turned off (PRESENCE_ENABLED=false): nothing is counted or announced. */
export const NO_PRESENCE: Presence = {
  connected: () => () => {},
  stop: async () => {},
};

// A node refreshes its row this often; one unseen for NODE_DEAD_MS is presumed gone, and the users
// only it held go offline. Three missed refreshes, so a slow moment is not a death.
const NODE_REFRESH_MS = 10_000;
const NODE_DEAD_MS = 3 * NODE_REFRESH_MS;

export class PresenceTracker implements Presence {
  private readonly users = new Map<number, UserState>();
  /** Announcements in flight, one chain per user so their writes land in order. */
  private readonly writes = new Map<number, Promise<void>>();
  private stopped = false;
  private refresher: NodeJS.Timeout | undefined;
  /** This process in the `nodes` table: presence is decided across every live node's holds. */
  readonly nodeId = randomUUID();

  constructor(
    private readonly deps: { db: Db; bus: Bus; log: Logger },
    private readonly windowMs: number,
    private readonly graceMs: number,
  ) {}

  /**
   * Registers this node, then keeps its row fresh. Each refresh also takes offline the users no
   * live node holds any more — those of a node that crashed, including this process's previous
   * life, once its row has gone stale.
   */
  async start(): Promise<void> {
    await touchNode(this.deps.db, this.nodeId, new Date().toISOString());
    this.refresher = setInterval(() => {
      this.refresh().catch((err) => this.deps.log.error({ err }, 'presence refresh failed'));
    }, NODE_REFRESH_MS);
    this.refresher.unref();
  }

  private async refresh(): Promise<void> {
    const now = Date.now();
    await touchNode(this.deps.db, this.nodeId, new Date(now).toISOString());
    const aliveSince = new Date(now - NODE_DEAD_MS).toISOString();
    for (const userId of await selectOrphanedOnlineUserIds(this.deps.db, aliveSince)) {
      if (!this.users.has(userId)) this.announce(userId, 'offline', new Date(now).toISOString());
    }
  }

  connected(userId: number, transport: Transport): () => void {
    const state = this.state(userId);
    state.connections++;
    clearTimeout(state.timer);
    state.timer = undefined;
    if (!state.held) {
      state.held = true;
      this.announce(userId, 'online', new Date().toISOString());
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.connections--;
      state.lastSeenAt = new Date().toISOString();
      if (state.connections === 0) {
        this.goOfflineIn(userId, state, transport === 'poll' ? this.windowMs : this.graceMs);
      }
    };
  }

  /** Leaves the cluster: this node's holds go, and the other nodes' refresh settles who is offline. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.refresher);
    for (const state of this.users.values()) clearTimeout(state.timer);
    await Promise.all(this.writes.values());
    await removeNode(this.deps.db, this.nodeId, new Date(Date.now() - NODE_DEAD_MS).toISOString()).catch(
      (err) => this.deps.log.error({ err }, 'leaving the presence table failed'),
    );
  }

  private state(userId: number): UserState {
    let state = this.users.get(userId);
    if (!state) {
      state = { connections: 0, held: false, lastSeenAt: null, timer: undefined };
      this.users.set(userId, state);
    }
    return state;
  }

  private goOfflineIn(userId: number, state: UserState, ms: number): void {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (state.connections > 0) return;
      state.held = false;
      this.announce(userId, 'offline', state.lastSeenAt ?? new Date().toISOString());
      // Nothing to remember about a user with no connections here: memory stays bounded.
      if (this.users.get(userId) === state) this.users.delete(userId);
    }, ms);
    state.timer.unref();
  }

  /**
   * This node starts or stops holding a user. Under the user's lock, the change is announced only
   * if it flips the user's state across all live nodes: online when this is the first hold,
   * offline when no live hold is left.
   */
  private announce(userId: number, presence: 'online' | 'offline', at: string): void {
    if (this.stopped) return;
    const previous = this.writes.get(userId) ?? Promise.resolve();
    const write = previous
      .then(() =>
        this.deps.db.transaction(async (trx) => {
          await dialectOf(trx).lockUser(trx, userId);
          const aliveSince = new Date(Date.now() - NODE_DEAD_MS).toISOString();
          if (presence === 'online') await holdPresence(trx, this.nodeId, userId);
          else await releasePresence(trx, this.nodeId, userId);
          const holds = await countLiveHolds(trx, userId, aliveSince);
          if (presence === 'online' ? holds > 1 : holds > 0) return null; // another node decides
          if (!(await updatePresence(trx, userId, presence, at))) return false; // the account is gone
          // Logged, so a long-poll client between two polls (or a stream reconnecting) gets the
          // transition on its next read, from any node, once. One row per transition, naming its
          // subject: who hears of it (the subject's contacts) is worked out as it is read, not
          // written as one recipient row per contact — a million rows when a 1,000-member group
          // comes online. Kept only minutes (PRESENCE_EVENTS_KEPT_MS).
          await insertEvent(
            trx,
            {
              type: 'presence.updated',
              subjectUserId: userId,
              data: { userId: String(userId), presence, lastSeenAt: at },
            },
            at,
          );
          return true;
        }),
      )
      .then((logged) => {
        if (logged) this.deps.bus.publish({ kind: 'log' });
      })
      .catch((err) => this.deps.log.error({ err, userId }, 'presence update failed'))
      .finally(() => {
        if (this.writes.get(userId) === write) this.writes.delete(userId);
      });
    this.writes.set(userId, write);
  }
}
