import { retryAfterDelay } from './backoff.ts';
import type { ParleyEvent, Transport } from './types.ts';

/** How one request of a transport (a stream, a poll) ended. */
export type Attempt =
  /** The subscription was closed while it ran. */
  | { kind: 'stopped' }
  /** A poll answered, or a stream ended cleanly (the server closed it: a restart, a revoked session). */
  | { kind: 'done'; livedMs: number }
  /** 401: the session is gone; retrying cannot help. */
  | { kind: 'unauthorized' }
  | {
      kind: 'failed';
      error: Error;
      status?: number;
      /** What the server asked for with `Retry-After`, jitter included. */
      retryAfterMs?: number;
      /** Whether a stream had opened before it failed, and how long it lived. */
      livedMs?: number;
      /** Nothing a retry could fix (400, 403, 404 on the long-poll…): the subscription stops. */
      fatal: boolean;
    };

/** What a transport hands its events to; the subscription behind it keeps the cursor. */
export interface Sink {
  /** The cursor to resume after. */
  readonly cursor: string | undefined;
  /** The transport's request was accepted: events flow through it from now on. */
  opened(transport: Transport): void;
  /** Hands one event to the application, then records its id. Throws a HandlerError if the application did. */
  deliver(event: ParleyEvent): Promise<void>;
  /** Records a cursor that no event carried (a poll's answer). */
  advance(cursor: string): Promise<void>;
}

/** An error thrown by the application's own handler: it stops the subscription, never retried. */
export class HandlerError extends Error {
  constructor(override readonly cause: unknown) {
    super(`an event handler failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** The attempt a non-2xx answer makes. Only overload (429) and server trouble (5xx) are worth retrying. */
export function failureOf(response: Response, livedMs?: number): Attempt {
  const { status } = response;
  // The body is not needed; reading nothing more lets the connection go.
  response.body?.cancel().catch(() => {});
  if (status === 401) return { kind: 'unauthorized' };
  const retryAfterMs = retryAfterDelay(response.headers.get('Retry-After'));
  return {
    kind: 'failed',
    error: new Error(`${response.url || 'request'} answered ${status}`),
    status,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(livedMs !== undefined ? { livedMs } : {}),
    fatal: status !== 429 && status < 500,
  };
}

/** The attempt a thrown error makes: the subscription's own stop, the handler's error, or a network failure. */
export function attemptOf(err: unknown, stop: AbortSignal, livedMs?: number): Attempt {
  if (err instanceof HandlerError) throw err;
  if (stop.aborted) return { kind: 'stopped' };
  return {
    kind: 'failed',
    error: err instanceof Error ? err : new Error(String(err)),
    ...(livedMs !== undefined ? { livedMs } : {}),
    fatal: false,
  };
}
