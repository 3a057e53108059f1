import type Koa from 'koa';
import type { Deps } from '../lib/deps.ts';
import { requireSession } from '../lib/http/auth.ts';
import { invalidStreamTicket, rateLimited } from '../lib/http/problems.ts';
import { route } from '../lib/http/route.ts';
import { StreamTicket } from '../lib/http/schemas.ts';
import type { Session } from '../lib/security/sessions.ts';
import {
  issueStreamTicket,
  redeemStreamTicket,
  STREAM_TICKETS_PER_SESSION,
} from '../lib/security/stream-tickets.ts';
import { problems } from './responses.ts';

/**
 * The session of a GET /events request: from its `?ticket=` when it has one (a browser's EventSource
 * on another site), otherwise from the Bearer header or the cookie. A ticket is consumed here, before
 * the query is validated, so a request that fails later has still used it.
 */
export async function sessionOfStream(ctx: Koa.Context, deps: Deps): Promise<Session> {
  const ticket = ctx.query.ticket;
  if (ticket === undefined) return requireSession(ctx, deps);
  const session = typeof ticket === 'string' ? await redeemStreamTicket(deps.db, ticket) : null;
  if (!session) throw invalidStreamTicket();
  return session;
}

export const streamTicketRoutes = [
  route({
    method: 'post',
    path: '/events/ticket',
    operationId: 'createStreamTicket',
    summary: 'A single-use ticket that opens one event stream',
    description: `For browser apps on another site (an origin in CORS_ORIGINS), whose EventSource can send neither a bearer header nor a SameSite=Lax cookie: open \`new EventSource(\`\${server}/events?ticket=\${ticket}\`)\` (add \`&cursor=\` to resume) within 60 s. The ticket opens one stream, once; used, expired or unknown it is a 401 (\`invalid-stream-ticket\`), which also stops EventSource's own retries — take a new ticket and reconnect from your last event id. Logging out (or any revocation of the session) invalidates its tickets, and the streams they opened close. A session holds at most ${STREAM_TICKETS_PER_SESSION} unused tickets (429 beyond). Tickets never appear in the server's logs.`,
    tags: ['Events'],
    auth: true,
    responses: {
      200: { description: 'The ticket', schema: StreamTicket },
      ...problems(401, 429),
    },
    handler: async ({ deps, session }) => {
      const issued = await issueStreamTicket(deps.db, session);
      if ('tooMany' in issued) {
        throw rateLimited(
          `At most ${STREAM_TICKETS_PER_SESSION} unused stream tickets per session; use one or wait until they expire.`,
          issued.retryAfterSeconds,
        );
      }
      return { status: 200, body: issued, headers: { 'Cache-Control': 'no-store' } };
    },
  }),
];
