import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Bus, BusMessage } from '../events/bus.ts';
import type { Db } from '../store/db.ts';
import { selectSessionsRevokedSince } from '../store/sessions.ts';

// NOTIFY rejects payloads of 8000 bytes or more; stay clear of it, leaving room for the envelope.
const MAX_PAYLOAD_BYTES = 7000;
// Reconnect quickly after a blip, but never hammer a database that is down.
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;
// A silently dead connection (cable pulled, NAT expiry) raises no error: a ping notices within this.
const PING_MS = 30_000;
// Revocations are looked up from this long before the connection was lost: nodes' clocks differ.
const CLOCK_SKEW_MS = 60_000;

interface Envelope {
  /** The publishing node: it has delivered the message to itself already. */
  n: string;
  m: BusMessage;
}

/**
 * The bus between nodes that share one PostgreSQL database: LISTEN/NOTIFY, no extra service.
 * A message is delivered to this node's subscribers at once and sent to the others with NOTIFY
 * (ids and small data only, split to stay under the payload limit). The LISTEN connection is a
 * dedicated client outside the pool; when it drops, it reconnects with backoff and then wakes the
 * local readers, which catch up from the log — the log is the truth, a missed NOTIFY loses nothing.
 */
export class PgBus implements Bus {
  private readonly handlers = new Set<(message: BusMessage) => void>();
  private readonly node = randomUUID();
  private listener: pg.Client | null = null;
  private closed = false;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** When the LISTEN connection was lost, while it is down. */
  private lostAt: number | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private logNotify: { running: boolean; again: boolean } = { running: false, again: false };

  private constructor(
    private readonly db: Db,
    private readonly connectionString: string,
    private readonly channel: string,
    private readonly log: Logger,
  ) {}

  /** Connects the LISTEN client; the channel is per schema, so deployments on one database stay apart. */
  static async connect(
    db: Db,
    target: { connectionString: string; schema: string | undefined },
    log: Logger,
  ): Promise<PgBus> {
    const bus = new PgBus(db, target.connectionString, `parley:${target.schema ?? 'public'}`, log);
    await bus.listen();
    return bus;
  }

  publish(message: BusMessage): void {
    this.deliver(message);
    if (message.kind === 'log') {
      this.notifyLog();
      return;
    }
    for (const part of split(message)) {
      const payload = JSON.stringify({ n: this.node, m: part } satisfies Envelope);
      if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
        this.log.warn({ kind: part.kind }, 'bus message too large for NOTIFY; delivered on this node only');
        continue;
      }
      this.notify(payload);
    }
  }

  subscribe(handler: (message: BusMessage) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handlers.clear();
    for (const timer of [this.reconnectTimer, this.pingTimer]) if (timer) clearTimeout(timer);
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
  }

  /** The backend pid of the LISTEN connection, for operators and the spec that kills it. */
  get listenerPid(): number | undefined {
    return (this.listener as unknown as { processID?: number } | null)?.processID;
  }

  private deliver(message: BusMessage): void {
    for (const handler of this.handlers) handler(message);
  }

  /** One NOTIFY in flight at a time; commits during it are covered by one more after it. */
  private notifyLog(): void {
    if (this.logNotify.running) {
      this.logNotify.again = true;
      return;
    }
    this.logNotify.running = true;
    this.notify(JSON.stringify({ n: this.node, m: { kind: 'log' } } satisfies Envelope)).finally(() => {
      this.logNotify.running = false;
      if (this.logNotify.again) {
        this.logNotify.again = false;
        this.notifyLog();
      }
    });
  }

  private notify(payload: string): Promise<void> {
    // Through the pool, not the LISTEN client: publishing keeps working while that reconnects.
    return this.db.raw('SELECT pg_notify(?, ?)', [this.channel, payload]).then(
      () => {},
      (err) => {
        if (!this.closed) this.log.error({ err }, 'NOTIFY failed; other nodes catch up on their next wake');
      },
    );
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      keepAlive: true,
      // Names the connection in pg_stat_activity, per process, so an operator can tell nodes apart.
      application_name: `parley-listen:${process.pid}`,
    });
    client.on('notification', (n) => {
      if (n.channel !== this.channel || !n.payload) return;
      try {
        const envelope = JSON.parse(n.payload) as Envelope;
        if (envelope.n !== this.node) this.deliver(envelope.m);
      } catch (err) {
        this.log.warn({ err }, 'ignored a malformed bus notification');
      }
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('LISTEN connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(this.channel)}`);
    } catch (err) {
      // Connected but not listening (or half-connected): end the client, or each failed attempt
      // of the reconnect loop would leave a database connection behind.
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.listener = client;
    this.reconnectDelay = RECONNECT_FIRST_MS;
    this.schedulePing(client);
  }

  private schedulePing(client: pg.Client): void {
    this.pingTimer = setTimeout(() => {
      client.query('SELECT 1').then(
        () => this.listener === client && this.schedulePing(client),
        (err) => this.lost(client, err),
      );
    }, PING_MS);
    this.pingTimer.unref();
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.closed || this.listener !== client) return;
    this.listener = null;
    this.lostAt ??= Date.now();
    if (this.pingTimer) clearTimeout(this.pingTimer);
    client.end().catch(() => {});
    this.log.warn({ err }, 'lost the LISTEN connection; reconnecting');
    this.reconnect();
  }

  private reconnect(): void {
    if (this.closed) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(delay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen().then(
        () => {
          if (this.closed) return;
          this.log.info('LISTEN connection restored; catching up from the event log');
          // Whatever was committed while nobody listened is in the log: read it now.
          this.deliver({ kind: 'log' });
          this.closeRevokedSince(this.lostAt);
          this.lostAt = null;
        },
        (err) => {
          if (this.closed) return;
          this.log.warn({ err, retryInMs: this.reconnectDelay }, 'reconnecting the LISTEN connection failed');
          this.reconnect();
        },
      );
    }, delay);
  }

  /** Revocations announced while this node was deaf are in the sessions table: close their streams. */
  private closeRevokedSince(lostAt: number | null): void {
    if (lostAt === null) return;
    const since = new Date(lostAt - CLOCK_SKEW_MS).toISOString();
    selectSessionsRevokedSince(this.db, since).then(
      (sessionIds) => {
        if (sessionIds.length && !this.closed) this.deliver({ kind: 'revoke', sessionIds });
      },
      (err) => this.log.error({ err }, 'could not look up sessions revoked during the LISTEN outage'),
    );
  }
}

/** Splits a message whose id lists would overflow one NOTIFY into several that each fit. */
function split(message: BusMessage): BusMessage[] {
  const CHUNK = 100; // ids per part: 100 session ids (~35 bytes each) leave half the payload for data
  if (message.kind === 'revoke' && message.sessionIds.length > CHUNK) {
    return chunks(message.sessionIds, CHUNK).map((sessionIds) => ({ ...message, sessionIds }));
  }
  if (message.kind === 'ephemeral' && message.userIds.length > CHUNK) {
    return chunks(message.userIds, CHUNK).map((userIds) => ({ ...message, userIds }));
  }
  return [message];
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
