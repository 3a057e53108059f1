import type { EventRow } from '../store/events.ts';
import { encodeCursor, type Position } from '../store/position.ts';
import type { EphemeralEventType } from './bus.ts';

/**
 * An event ready to send. The JSON is assembled once from the stored data (never re-serialized)
 * and shared by every recipient and both transports; the SSE frame is derived once, on first use.
 */
export class WireEvent {
  private sseFrame: string | undefined;

  constructor(
    /** Log position; null for ephemeral events, which carry no cursor. */
    readonly position: Position | null,
    readonly type: string,
    readonly json: string,
  ) {}

  static fromRow(row: EventRow): WireEvent {
    const cursor = encodeCursor(row);
    return new WireEvent(
      { tx: row.tx, id: row.id },
      row.type,
      `{"id":"${cursor}","type":"${row.type}","at":"${row.at}","data":${row.data}}`,
    );
  }

  static ephemeral(type: EphemeralEventType, data: unknown, at: string): WireEvent {
    return new WireEvent(null, type, JSON.stringify({ type, at, data }));
  }

  /** The event that tells a client its cursor was too old: refetch state, then go on from `head`. */
  static reset(head: Position, at: string): WireEvent {
    return new WireEvent(
      head,
      'reset',
      JSON.stringify({ id: encodeCursor(head), type: 'reset', at, data: {} }),
    );
  }

  get frame(): string {
    this.sseFrame ??=
      this.position === null
        ? `event: ${this.type}\ndata: ${this.json}\n\n`
        : `id: ${encodeCursor(this.position)}\nevent: ${this.type}\ndata: ${this.json}\n\n`;
    return this.sseFrame;
  }
}
