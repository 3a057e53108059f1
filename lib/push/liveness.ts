import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { holdDevicesLive } from '../store/devices.ts';

export type Transport = 'stream' | 'poll';

/**
 * Which devices have a live connection, across nodes, for the push dispatcher: a device with an
 * open stream, a waiting poll, or a poll within the presence window gets no push — it hears the
 * event itself. Each node counts its connections per device in memory and keeps `live_until` of
 * the devices it holds in the future (refreshing it while they stay connected), so a device held
 * by a node that died goes quiet after at most `HOLD_MS`.
 */
export interface DeviceLiveness {
  /** A connection of this device opened; resolves once other nodes can see it. Call the returned function when it ends. */
  connected(deviceId: string, transport: Transport): Promise<() => void>;
  stop(): Promise<void>;
}

// A held device's live_until is this far ahead, refreshed every third of it.
const HOLD_MS = 30_000;
const REFRESH_MS = HOLD_MS / 3;

interface Held {
  connections: number;
  timer: NodeJS.Timeout | undefined;
}

export class DeviceLivenessTracker implements DeviceLiveness {
  private readonly held = new Map<string, Held>();
  private readonly refresher: NodeJS.Timeout;

  constructor(
    private readonly deps: { db: Db; log: Logger },
    /** How long after its last poll a device still counts as live (PRESENCE_WINDOW_MS). */
    private readonly pollWindowMs: number,
    /** How long after its stream closes (PRESENCE_GRACE_MS): a reconnect is not a departure. */
    private readonly streamGraceMs: number,
  ) {
    this.refresher = setInterval(() => this.refresh(), REFRESH_MS);
    this.refresher.unref();
  }

  async connected(deviceId: string, transport: Transport): Promise<() => void> {
    let state = this.held.get(deviceId);
    const isNew = !state;
    if (!state) {
      state = { connections: 0, timer: undefined };
      this.held.set(deviceId, state);
    }
    state.connections++;
    clearTimeout(state.timer);
    state.timer = undefined;
    const held = state;
    if (isNew) await this.write([deviceId], Date.now() + HOLD_MS);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.connections--;
      if (held.connections > 0) return;
      const linger = transport === 'poll' ? this.pollWindowMs : this.streamGraceMs;
      held.timer = setTimeout(() => {
        if (held.connections > 0 || this.held.get(deviceId) !== held) return;
        this.held.delete(deviceId);
        void this.write([deviceId], Date.now());
      }, linger);
      held.timer.unref();
    };
  }

  private refresh(): void {
    if (this.held.size) void this.write([...this.held.keys()], Date.now() + HOLD_MS);
  }

  private async write(ids: string[], untilMs: number): Promise<void> {
    const now = new Date().toISOString();
    try {
      for (let i = 0; i < ids.length; i += 500) {
        await holdDevicesLive(this.deps.db, ids.slice(i, i + 500), new Date(untilMs).toISOString(), now);
      }
    } catch (err) {
      this.deps.log.error({ err }, 'recording live devices failed');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.refresher);
    for (const state of this.held.values()) clearTimeout(state.timer);
    // Leave the rows to run out: another node may hold the same devices.
    this.held.clear();
  }
}

/** Reports a session's connection for its device, if it has one; returns what to call when it ends. */
export async function deviceConnected(
  liveness: DeviceLiveness,
  session: { deviceId?: string | null },
  transport: Transport,
): Promise<() => void> {
  return session.deviceId ? liveness.connected(session.deviceId, transport) : () => {};
}
