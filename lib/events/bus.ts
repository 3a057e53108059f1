/** What nodes tell each other. The log is the truth; the bus only wakes readers and carries what is never stored. */
export type BusMessage =
  /** New events were committed to the log: read it from your cursor. */
  | { kind: 'log' }
  /** Not stored, not replayed (typing): deliver to these users' open streams if any. */
  | { kind: 'ephemeral'; userIds: number[]; type: EphemeralEventType; data: unknown; at: string }
  /** These sessions were revoked: end their streams and polls now. */
  | { kind: 'revoke'; sessionIds: string[] };

export type EphemeralEventType = 'typing';

/**
 * Publish/subscribe between the parts of a deployment. The in-process bus serves one node; the
 * PostgreSQL bus (LISTEN/NOTIFY) serves several. Subscribers on every node receive every message,
 * including the publisher's own.
 */
export interface Bus {
  publish(message: BusMessage): void;
  subscribe(handler: (message: BusMessage) => void): () => void;
  close(): Promise<void>;
}

export class LocalBus implements Bus {
  private readonly handlers = new Set<(message: BusMessage) => void>();

  publish(message: BusMessage): void {
    for (const handler of this.handlers) handler(message);
  }

  subscribe(handler: (message: BusMessage) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
