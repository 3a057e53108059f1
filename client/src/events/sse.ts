import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ParleyApi } from '../api.ts';
import { type Attempt, attemptOf, failureOf, type Sink } from './attempt.ts';
import type { ParleyEvent } from './types.ts';

export interface StreamOptions {
  /**
   * A stream that has sent nothing — not even a heartbeat comment — for this long is taken as dead
   * (a proxy that buffers, a peer gone without a FIN) and is dropped.
   */
  staleAfterMs: number;
  /** Takes a single-use stream ticket (`POST /events/ticket`) for each connection. */
  ticket: boolean;
}

/** Thrown into the read when the stream was silent for too long. */
class StaleStream extends Error {
  override name = 'StaleStream';
}

/**
 * One Server-Sent Events connection, read with fetch: unlike the EventSource interface, fetch can
 * send the bearer header, shows the status and `Retry-After` of a refused stream, and lets every
 * event type through without a listener per type. The stream resumes after the sink's cursor
 * (`?cursor=`); each event is handed over, and its id recorded, before the next one is read.
 */
export async function streamOnce(
  api: ParleyApi,
  sink: Sink,
  stop: AbortSignal,
  options: StreamOptions,
): Promise<Attempt> {
  // Aborting this one ends the request — on close, when the stream went stale, or when done.
  const connection = new AbortController();
  const abort = () => connection.abort();
  stop.addEventListener('abort', abort);
  let openedAt: number | undefined;
  const lived = () => (openedAt === undefined ? undefined : Date.now() - openedAt);
  try {
    const query: { cursor?: string; ticket?: string } = {};
    if (sink.cursor !== undefined) query.cursor = sink.cursor;
    if (options.ticket) {
      const ticket = await takeTicket(api, connection.signal);
      if (typeof ticket !== 'string') return ticket;
      query.ticket = ticket;
    }
    const { data, response } = await api.GET('/events', {
      // The ticket parameter is not in every server's document yet; the server checks it either way.
      params: { query: query as { cursor?: string } },
      parseAs: 'stream',
      headers: { Accept: 'text/event-stream' },
      signal: connection.signal,
    });
    if (!data) {
      const refused = failureOf(response);
      // A refused ticket (used, expired) is no lost session: the next attempt takes a new one, and
      // a revoked session shows as the ticket request's own 401.
      return refused.kind === 'unauthorized' && options.ticket
        ? { kind: 'failed', error: new Error('the stream ticket was refused'), status: 401, fatal: false }
        : refused;
    }
    if (!response.headers.get('Content-Type')?.startsWith('text/event-stream')) {
      // Something between client and server (a captive portal, a misrouted proxy) answered instead.
      response.body?.cancel().catch(() => {});
      return { kind: 'failed', error: new Error('GET /events did not answer an event stream'), fatal: false };
    }
    openedAt = Date.now();
    sink.opened('sse');
    await readEvents(data, sink, stop, connection, options.staleAfterMs);
    return stop.aborted ? { kind: 'stopped' } : { kind: 'done', livedMs: lived() ?? 0 };
  } catch (err) {
    return attemptOf(err, stop, lived());
  } finally {
    stop.removeEventListener('abort', abort);
    connection.abort();
  }
}

/** Reads frames until the stream ends, handing each event to the sink in order. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  sink: Sink,
  stop: AbortSignal,
  connection: AbortController,
  staleAfterMs: number,
): Promise<void> {
  const frames: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (frame) => frames.push(frame) });
  const reader = body.getReader();
  // Aborting the request does not always settle a read already waiting on its body (seen on Node
  // 20 with a stream that had delivered events): cancelling the reader always does.
  const cancel = () => void reader.cancel().catch(() => {});
  connection.signal.addEventListener('abort', cancel);
  try {
    await readFrames(reader, parser, frames, sink, stop, connection, staleAfterMs);
  } finally {
    connection.signal.removeEventListener('abort', cancel);
  }
}

async function readFrames(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  parser: ReturnType<typeof createParser>,
  frames: EventSourceMessage[],
  sink: Sink,
  stop: AbortSignal,
  connection: AbortController,
  staleAfterMs: number,
): Promise<void> {
  const decoder = new TextDecoder();
  for (;;) {
    // The watchdog runs only while waiting for bytes: a slow handler is not a stale stream.
    const watchdog = setTimeout(
      () => connection.abort(new StaleStream('no byte for too long')),
      staleAfterMs,
    );
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (err) {
      throw connection.signal.reason instanceof StaleStream ? connection.signal.reason : err;
    } finally {
      clearTimeout(watchdog);
    }
    if (chunk.done) return;
    parser.feed(decoder.decode(chunk.value, { stream: true }));
    for (const frame of frames.splice(0)) {
      if (stop.aborted) return;
      // Every frame's data is the whole Event as JSON, id and type included.
      await sink.deliver(JSON.parse(frame.data) as ParleyEvent);
    }
  }
}

/** A stream ticket, or the attempt to report when the server would not give one. */
async function takeTicket(api: ParleyApi, signal: AbortSignal): Promise<string | Attempt> {
  // Typed loosely: POST /events/ticket is newer than some servers' documents (a 404 there).
  const post = api.POST as unknown as (
    path: string,
    init: { signal: AbortSignal },
  ) => Promise<{ data?: { ticket: string }; response: Response }>;
  const { data, response } = await post('/events/ticket', { signal });
  return data ? data.ticket : failureOf(response);
}
