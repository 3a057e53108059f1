import { announceTyping } from '../lib/chat/typing.ts';
import { route } from '../lib/http/route.ts';
import { ConversationParams } from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

export const typingRoutes = [
  route({
    method: 'post',
    path: '/conversations/{conversationId}/typing',
    operationId: 'announceTyping',
    summary: 'Tell the other members you are typing',
    description:
      'The other members’ open streams and waiting polls get an ephemeral `typing` event `{conversationId, userId, expiresAt}` (about 6 s ahead): it has no `id`, is never stored and is not replayed on resume. Repeat every few seconds while typing; rate-limited per user (TYPING_PER_WINDOW per TYPING_WINDOW_SECONDS, 429 with Retry-After beyond).',
    tags: ['Typing'],
    auth: true,
    params: ConversationParams,
    responses: { 204: { description: 'Announced' }, ...problems(401, 404, 429) },
    handler: async ({ deps, session, params }) => {
      await deps.rateLimits.typing.take(session.userId);
      await announceTyping(deps, session.userId, params.conversationId);
      return { status: 204 };
    },
  }),
];
