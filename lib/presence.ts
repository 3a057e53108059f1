import type { Logger } from 'pino';
import type { Bus } from './events/bus.ts';
import { selectContactIds } from './store/conversations.ts';
import type { Db } from './store/db.ts';
import { selectOnlineUserIds, updatePresence } from './store/presence.ts';

export type Transport = 'stream' | 'poll';

/**
 * Who is online. A user is online while any of their connections is open — an SSE stream or a
 * waiting poll, from any device — and for a while after the last one ends: `windowMs` after a poll
 * (a polling client is between requests most of the time), `graceMs` after a stream (a quick
 * reconnect is not a transition). Only transitions are announced, as `presence.updated` to the
 * user and everyone who shares a conversation with them, and written to the user's row, which is
 * where User objects read `presence` and `lastSeenAt` from.
 *
 * This is the whole interface the event routes use; the counting lives in this node's memory.
 * Several nodes serving one user need a shared count behind the same two calls.
 */
export interface Presence {
  /** A connection opened; call the returned function once when it ends. */
  connected(userId: number, transport: Transport): () => void;
  stop(): Promise<void>;
}

interface UserState {
  connections: number;
  /** What was last announced (or found in the database at start). */
  announced: 'online' | 'offline';
  /** When the last connection ended. */
  lastSeenAt: string | null;
  timer: NodeJS.Timeout | undefined;
}

/** Presence turned off (PRESENCE_ENABLED=false): nothing is counted or announced. */
export const NO_PRESENCE: Presence = {
  connected: () => () => {},
  stop: async () => {},
};

export class PresenceTracker implements Presence {
  private readonly users = new Map<number, UserState>();
  /** Announcements in flight, one chain per user so their writes land in order. */
  private readonly writes = new Map<number, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly deps: { db: Db; bus: Bus; log: Logger },
    private readonly windowMs: number,
    private readonly graceMs: number,
  ) {}

  /**
   * Users the database still shows online (the process stopped or crashed while they were
   * connected) get the grace period to reconnect, then go offline.
   */
  async start(): Promise<void> {
    const now = new Date().toISOString();
    for (const userId of await selectOnlineUserIds(this.deps.db)) {
      const state = this.state(userId, 'online');
      state.lastSeenAt = now;
      this.goOfflineIn(userId, state, this.graceMs);
    }
  }

  connected(userId: number, transport: Transport): () => void {
    const state = this.state(userId, 'offline');
    state.connections++;
    clearTimeout(state.timer);
    state.timer = undefined;
    if (state.announced === 'offline') this.announce(userId, state, 'online', new Date().toISOString());
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

  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.users.values()) clearTimeout(state.timer);
    await Promise.all(this.writes.values());
  }

  private state(userId: number, initial: 'online' | 'offline'): UserState {
    let state = this.users.get(userId);
    if (!state) {
      state = { connections: 0, announced: initial, lastSeenAt: null, timer: undefined };
      this.users.set(userId, state);
    }
    return state;
  }

  private goOfflineIn(userId: number, state: UserState, ms: number): void {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (state.connections > 0) return;
      this.announce(userId, state, 'offline', state.lastSeenAt ?? new Date().toISOString());
      // Nothing to remember about an offline user with no connections: memory stays bounded.
      if (this.users.get(userId) === state) this.users.delete(userId);
    }, ms);
    state.timer.unref();
  }

  private announce(userId: number, state: UserState, presence: 'online' | 'offline', at: string): void {
    state.announced = presence;
    if (this.stopped) return;
    const previous = this.writes.get(userId) ?? Promise.resolve();
    const write = previous
      .then(() =>
        this.deps.db.transaction(async (trx) => {
          if (!(await updatePresence(trx, userId, presence, at))) return null; // the account is gone
          return selectContactIds(trx, userId);
        }),
      )
      // Ephemeral, like typing: presence is current state (User objects carry it), so it is not
      // logged. Logging it would write one recipient row per contact per transition — a million
      // rows when a 1,000-member group comes online.
      .then((userIds) => {
        if (!userIds) return;
        this.deps.bus.publish({
          kind: 'ephemeral',
          userIds,
          type: 'presence.updated',
          data: { userId: String(userId), presence, lastSeenAt: at },
          at,
        });
      })
      .catch((err) => this.deps.log.error({ err, userId }, 'presence update failed'))
      .finally(() => {
        if (this.writes.get(userId) === write) this.writes.delete(userId);
      });
    this.writes.set(userId, write);
  }
}
