import type { ParleyApi } from '../api.ts';
import { type Attempt, attemptOf, failureOf, type Sink } from './attempt.ts';

/**
 * One long-poll: asks for the events after the sink's cursor, waiting up to `timeoutSeconds` for
 * some, hands them over in order, then records the cursor the server answered with (which moves on
 * even when no event came, e.g. the first poll of a subscription that starts "now").
 */
export async function pollOnce(
  api: ParleyApi,
  sink: Sink,
  stop: AbortSignal,
  timeoutSeconds: number,
  /** False for the poll that only fixes a starting point: no transport has taken over yet. */
  announce = true,
): Promise<Attempt> {
  const started = Date.now();
  try {
    const { data, response } = await api.GET('/events/poll', {
      params: {
        query: { ...(sink.cursor !== undefined ? { cursor: sink.cursor } : {}), timeout: timeoutSeconds },
      },
      signal: stop,
    });
    if (!data) return failureOf(response);
    if (announce) sink.opened('poll');
    for (const event of data.events) await sink.deliver(event);
    // A close during delivery leaves the cursor at the last event delivered, not past the rest.
    if (stop.aborted) return { kind: 'stopped' };
    await sink.advance(data.cursor);
    return { kind: 'done', livedMs: Date.now() - started };
  } catch (err) {
    return attemptOf(err, stop);
  }
}
