import { z } from 'zod';
import type { Deps } from '../lib/deps.ts';
import { servePoll } from '../lib/events/long-poll.ts';
import { serveEventStream } from '../lib/events/sse.ts';
import { Event } from '../lib/http/event-schemas.ts';
import { SAMPLES } from '../lib/http/examples.ts';
import { malformedCursor, rateLimited } from '../lib/http/problems.ts';
import { route } from '../lib/http/route.ts';
import { deviceConnected } from '../lib/push/liveness.ts';
import type { Session } from '../lib/security/sessions.ts';
import { decodeCursor, type Position } from '../lib/store/position.ts';
import { problems } from './responses.ts';
import { sessionOfStream } from './stream-tickets.ts';

const cursorQuery = z.string().max(40).optional().meta({
  description:
    'Resume after this event (an event `id`, a poll `cursor` or an `eventCursor`). Absent: from now.',
});

const PollResult = z.object({ events: z.array(Event), cursor: z.string() }).meta({
  id: 'PollResult',
  examples: [
    {
      events: [{ id: SAMPLES.eventCursor, type: 'message.created', at: SAMPLES.at, data: SAMPLES.message }],
      cursor: SAMPLES.eventCursor,
    },
  ],
});

/** The position a client resumes after; a cursor the server never handed out is a 400. */
function startAfter(cursor: string | undefined): Position | undefined {
  const position = decodeCursor(cursor);
  if (position === 'malformed') throw malformedCursor('event cursor');
  return position;
}

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
    authenticate: sessionOfStream,
    query: z.strictObject({
      cursor: cursorQuery,
      ticket: z.string().max(64).optional().meta({
        description:
          'A stream ticket from `POST /events/ticket`, in place of the bearer header or cookie (browsers on another site). Single use, 60 s.',
      }),
    }),
    responses: {
      200: {
        description:
          'An endless text/event-stream; each frame’s `data:` is one Event (see the `Event` schema: one per `type`)',
        contentType: 'text/event-stream',
      },
      ...problems(400, 401, 429),
    },
    handler: async ({ deps, session, query, ctx }) => {
      // Last-Event-ID wins: EventSource sends it on every reconnect, while a `?cursor=` in its URL
      // is where the first connection started.
      const cursor = startAfter(ctx.get('Last-Event-ID') || query.cursor);
      checkConnectionCap(deps, session);
      // The handler returns once the stream is live; the stream reports its own end to presence.
      // Awaited: once the stream is live, no node pushes to this device any more.
      const leftDevice = await deviceConnected(deps.push.liveness, session, 'stream');
      // Online once the stream's starting point is fixed: announced earlier, the transition could
      // commit before that read and so fall before the stream's own start.
      let leftPresence = () => {};
      const started = () => {
        leftPresence = deps.presence.connected(session.userId, 'stream');
      };
      const disconnected = () => {
        leftPresence();
        leftDevice();
      };
      await serveEventStream(deps, ctx, session, cursor, { started, ended: disconnected });
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
      const cursor = startAfter(query.cursor);
      checkConnectionCap(deps, session);
      // Passing a cursor back acknowledges every event up to it: those messages were delivered.
      if (cursor) deps.deliveries.acknowledged(session.userId, cursor);
      const leftDevice = await deviceConnected(deps.push.liveness, session, 'poll');
      // Online once the poll's starting point is fixed, as for a stream.
      let leftPresence = () => {};
      const started = () => {
        leftPresence = deps.presence.connected(session.userId, 'poll');
      };
      try {
        await servePoll(deps, ctx, session, cursor, query.timeout * 1000, started);
      } finally {
        leftPresence();
        leftDevice();
      }
      return undefined;
    },
  }),
];
