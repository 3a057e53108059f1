import { z } from 'zod';
import type { Deps } from '../lib/deps.ts';
import { rateLimited } from '../lib/errors.ts';
import { servePoll } from '../lib/events/long-poll.ts';
import { decodeCursor } from '../lib/events/position.ts';
import { serveEventStream } from '../lib/events/sse.ts';
import { route } from '../lib/http/route.ts';
import type { Session } from '../lib/sessions.ts';
import { problems } from './responses.ts';

const cursorQuery = z.string().max(40).optional().meta({
  description:
    'Resume after this event (an event `id`, a poll `cursor` or an `eventCursor`). Absent: from now.',
});

const Event = z
  .object({
    id: z
      .string()
      .optional()
      .meta({ description: 'The cursor of this event; absent on ephemeral events (typing)' }),
    type: z.string().meta({ example: 'message.created' }),
    at: z.string(),
    data: z.unknown(),
  })
  .meta({ id: 'Event' });

const PollResult = z.object({ events: z.array(Event), cursor: z.string() }).meta({ id: 'PollResult' });

/** Refuses a new stream or poll beyond the per-user cap. */
function checkConnectionCap(deps: Deps, session: Session): void {
  if (deps.hub.connectionsOf(session.userId) >= deps.config.streamsPerUser) {
    throw rateLimited(`At most ${deps.config.streamsPerUser} open streams and polls per user.`, 5);
  }
}

export const eventRoutes = [
  route({
    method: 'get',
    path: '/events',
    operationId: 'streamEvents',
    summary: 'Server-Sent Events stream of your events',
    description:
      'Frames are `id: <cursor>`, `event: <type>`, `data: <Event JSON>`. Resume with `Last-Event-ID` or `?cursor=` (the header wins when both are sent, as on an EventSource reconnect); without either the stream starts now. A cursor older than the retention yields one `reset` event, then the stream goes on from now. A `retry:` hint comes first, a `: live` comment once the replay is over, and a comment heartbeat every SSE_HEARTBEAT_MS (15 s). The stream ends when its session is revoked (logout, password change, account deletion) or when the client falls more than STREAM_BUFFER_BYTES behind; resume from the last id.',
    tags: ['Events'],
    auth: true,
    query: z.strictObject({ cursor: cursorQuery }),
    responses: {
      200: { description: 'An endless text/event-stream', contentType: 'text/event-stream' },
      ...problems(400, 401, 429),
    },
    handler: async ({ deps, session, query, ctx }) => {
      // Last-Event-ID wins: EventSource sends it on every reconnect, while a `?cursor=` in its URL
      // is where the first connection started.
      const cursor = decodeCursor(ctx.get('Last-Event-ID') || query.cursor);
      checkConnectionCap(deps, session);
      // The handler returns once the stream is live; the stream reports its own end to presence.
      const disconnected = deps.presence.connected(session.userId, 'stream');
      await serveEventStream(deps, ctx, session, cursor, disconnected);
      return undefined;
    },
  }),
  route({
    method: 'get',
    path: '/events/poll',
    operationId: 'pollEvents',
    summary: 'Long-poll for your events',
    description:
      'Answers at once with the events after `cursor` (at most POLL_BATCH_SIZE, with the cursor of the last one), or waits up to `timeout` seconds (default 25, clamped to 0–60) and answers `{events: [], cursor}`. Always pass back the `cursor` you got. A cursor older than the retention yields one `reset` event and a cursor from now. A poll whose session is revoked while it waits (logout, password change, account deletion) answers 401 at once, like any later request of that session.',
    tags: ['Events'],
    auth: true,
    query: z.strictObject({
      cursor: cursorQuery,
      timeout: z.coerce
        .number()
        .finite()
        .default(25)
        .transform((t) => Math.min(60, Math.max(0, t)))
        .meta({ description: 'Seconds to wait, 0–60 (default 25)' }),
    }),
    responses: {
      200: { description: 'Events after the cursor', schema: PollResult },
      ...problems(400, 401, 429),
    },
    handler: async ({ deps, session, query, ctx }) => {
      const cursor = decodeCursor(query.cursor);
      checkConnectionCap(deps, session);
      // Passing a cursor back acknowledges every event up to it: those messages were delivered.
      if (cursor) deps.deliveries.acknowledged(session.userId, cursor);
      const disconnected = deps.presence.connected(session.userId, 'poll');
      try {
        await servePoll(deps, ctx, session, cursor, query.timeout * 1000);
      } finally {
        disconnected();
      }
      return undefined;
    },
  }),
];
