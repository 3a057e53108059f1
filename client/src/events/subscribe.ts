import type { ParleyApi } from '../api.ts';
import { type Attempt, HandlerError, type Sink } from './attempt.ts';
import { type BackoffOptions, backoffDelay, sleep } from './backoff.ts';
import { type CursorStore, memoryCursorStore } from './cursor-store.ts';
import { pollOnce } from './poll.ts';
import { streamOnce } from './sse.ts';
import type { ParleyEvent, Transport } from './types.ts';

export interface SubscribeOptions {
  /** The client from createApi(): its base URL, token, credentials and fetch serve every request. */
  api: ParleyApi;
  /** Called for each event, in order; the next one waits until this resolves. */
  onEvent(event: ParleyEvent): void | Promise<void>;
  /**
   * The cursor was older than the server keeps events (or from another database): what happened
   * meanwhile cannot be replayed. Refetch state here (GET /conversations …); events continue from
   * the reset on. Without this hook the `reset` event goes to onEvent.
   */
  onReset?(event: ParleyEvent): void | Promise<void>;
  /** The session is gone (401: logged out, expired, password changed). The subscription has stopped. */
  onUnauthorized?(): void | Promise<void>;
  /** A transport took over (the first connection included). */
  onTransportChange?(transport: Transport): void;
  /** A request failed and will be retried after `delayMs`. */
  onRetry?(info: { error: Error; status?: number; delayMs: number; transport: Transport }): void;
  /**
   * `sse` or `poll` uses only that one; `auto` (default) streams, falls back to long-poll when a
   * stream cannot be opened or keeps being cut, and tries streaming again after `sseRetryMs`.
   */
  transport?: 'auto' | Transport;
  /** Where the cursor is kept. Default: in memory. Seed it with an `eventCursor` to stream from a state just read. */
  cursorStore?: CursorStore;
  backoff?: BackoffOptions;
  /** How long a long-poll waits on the server, 0–60 s. Default 25. */
  pollTimeoutSeconds?: number;
  /** In `auto`, how long to long-poll after streaming failed before trying a stream again. Default 60 s. */
  sseRetryMs?: number;
  /** A stream silent this long (no event, no heartbeat) is dropped. Default 45 s, three server heartbeats. */
  staleAfterMs?: number;
  /**
   * Open each stream with a single-use ticket from `POST /events/ticket`: for browser apps on another
   * site that authenticate with cookies the browser will not send cross-site. Default false.
   */
  streamTicket?: boolean;
  /** Aborting it closes the subscription, like close(). */
  signal?: AbortSignal;
}

/** Why a subscription ended; `done` rejects instead when an error stopped it. */
export type StopReason = 'closed' | 'unauthorized';

export interface Subscription {
  /** The transport in use, or undefined while (re)connecting or once stopped. */
  readonly transport: Transport | undefined;
  /**
   * Settles when the subscription stops: 'closed' after close(), 'unauthorized' after a 401;
   * rejects with the error when a handler threw (its event's cursor is not saved, so a new
   * subscription delivers it again) or the server refused for good (400, 403, 404).
   */
  readonly done: Promise<StopReason>;
  /** Stops: aborts the request in flight, delivers nothing more. Resolves once stopped. */
  close(): Promise<void>;
}

// A stream cut sooner than this after opening, in `auto`, counts as streaming not working here
// (a proxy that cuts long responses) rather than as a one-off drop.
const SHORT_LIVED_STREAM_MS = 10_000;

/**
 * Delivers the user's events, each exactly once and in order, across reconnects and switches
 * between SSE and long-poll: one transport runs at a time, every request resumes after the cursor
 * of the last event handed to `onEvent`, and that cursor is saved before the next event is handed over.
 */
export function subscribe(options: SubscribeOptions): Subscription {
  const stop = new AbortController();
  const external = options.signal;
  const onExternalAbort = () => stop.abort();
  if (external?.aborted) stop.abort();
  external?.addEventListener('abort', onExternalAbort);
  let transport: Transport | undefined;
  const setTransport = (next: Transport | undefined) => {
    if (next === transport) return;
    transport = next;
    if (next) options.onTransportChange?.(next);
  };
  const done = run(options, stop.signal, setTransport).finally(() => {
    transport = undefined;
    external?.removeEventListener('abort', onExternalAbort);
  });
  // The caller may only ever call close(); an unobserved rejection must not crash the process.
  done.catch(() => {});
  return {
    get transport() {
      return transport;
    },
    done,
    async close() {
      stop.abort();
      await done.catch(() => {});
    },
  };
}

async function run(
  options: SubscribeOptions,
  stop: AbortSignal,
  setTransport: (t: Transport | undefined) => void,
): Promise<StopReason> {
  const store = options.cursorStore ?? memoryCursorStore();
  const sink = await cursorSink(options, store, stop, setTransport);
  const mode = options.transport ?? 'auto';
  const pollTimeout = Math.min(60, Math.max(0, options.pollTimeoutSeconds ?? 25));
  const stream = { staleAfterMs: options.staleAfterMs ?? 45_000, ticket: options.streamTicket ?? false };
  let current: Transport = mode === 'poll' ? 'poll' : 'sse';
  let streamAgainAt = 0;
  let failures = 0;
  while (!stop.aborted) {
    if (mode === 'auto' && current === 'poll' && Date.now() >= streamAgainAt) current = 'sse';
    // Without a cursor, a stream would start at "now" and have no id to resume from until its first
    // event: a drop before then would lose what came meanwhile. An immediate poll fixes "now" first.
    const attempt: Attempt =
      sink.cursor === undefined
        ? await pollOnce(options.api, sink, stop, 0, false)
        : current === 'sse'
          ? await streamOnce(options.api, sink, stop, stream)
          : await pollOnce(options.api, sink, stop, pollTimeout);
    if (attempt.kind === 'stopped') break;
    if (attempt.kind === 'unauthorized') {
      setTransport(undefined);
      await options.onUnauthorized?.();
      return 'unauthorized';
    }
    if (attempt.kind === 'done') {
      failures = 0;
      // A cleanly ended stream (a restarting server closes them all) reconnects after a short jitter.
      if (current === 'sse') await sleep(backoffDelay(0, options.backoff), stop);
      continue;
    }
    setTransport(undefined);
    const streamFailed = current === 'sse' && sink.cursor !== undefined;
    if (mode === 'auto' && streamFailed && attempt.status !== 429 && streamingBroken(attempt)) {
      // Long-poll goes through where streams do not (buffering proxies, networks that cut long responses).
      current = 'poll';
      streamAgainAt = Date.now() + (options.sseRetryMs ?? 60_000);
      continue;
    }
    if (attempt.fatal) throw attempt.error;
    // A stream that had been live and dropped is no failure streak: the first retry comes soon.
    failures = attempt.livedMs !== undefined ? 0 : failures + 1;
    const delayMs = attempt.retryAfterMs ?? backoffDelay(failures, options.backoff);
    options.onRetry?.({
      error: attempt.error,
      ...(attempt.status !== undefined ? { status: attempt.status } : {}),
      delayMs,
      transport: current,
    });
    await sleep(delayMs, stop);
  }
  return 'closed';
}

/** Whether a failed stream says streaming does not work on this path: it never opened, or was cut early. */
const streamingBroken = (attempt: Attempt & { kind: 'failed' }): boolean =>
  attempt.livedMs === undefined ||
  attempt.livedMs < SHORT_LIVED_STREAM_MS ||
  attempt.error.name === 'StaleStream';

/** The sink every transport delivers into: the one place the cursor moves and the hooks are called. */
async function cursorSink(
  options: SubscribeOptions,
  store: CursorStore,
  stop: AbortSignal,
  setTransport: (t: Transport) => void,
): Promise<Sink> {
  let cursor = await store.load();
  const save = async (next: string) => {
    cursor = next;
    await store.save(next);
  };
  return {
    get cursor() {
      return cursor;
    },
    opened: setTransport,
    async deliver(event) {
      // Once closed, nothing more is handed over (and no cursor moves past what the app saw).
      if (stop.aborted) return;
      try {
        if (event.type === 'reset' && options.onReset) await options.onReset(event);
        else await options.onEvent(event);
      } catch (err) {
        throw new HandlerError(err);
      }
      // Ephemeral events (typing, presence) carry no id: nothing to resume from.
      if ('id' in event && event.id !== undefined) await save(event.id);
    },
    advance: save,
  };
}
