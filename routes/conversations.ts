import { z } from 'zod';
import { createConversation, getConversation, listConversations } from '../lib/chat/conversations.ts';
import { route } from '../lib/http/route.ts';
import {
  Conversation,
  ConversationParams,
  eventCursor,
  limitParam,
  Message,
  messageId,
  nameText,
} from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

const MAX_PARTICIPANTS = 1000;

const CreateConversationBody = z.strictObject({
  participantIds: z.array(z.string().max(32)).min(1).max(MAX_PARTICIPANTS),
  title: nameText(200).optional(),
  encrypted: z.boolean().optional().meta({
    description:
      'true: end-to-end encrypted with MLS (RFC 9420). Messages then carry `ciphertext` only, and members join and leave the group by commits (POST /conversations/{id}/commits). Fixed at creation.',
  }),
});

const ConversationPage = z
  .object({ conversations: z.array(Conversation), nextCursor: z.string().nullable(), eventCursor })
  .meta({ id: 'ConversationPage' });

const ConversationWithHistory = z
  .object({
    conversation: Conversation,
    messages: z.array(Message),
    hasMore: z.boolean().meta({
      description:
        'More messages lie beyond this page in its paging direction: newer ones when paging with `after` alone, older ones otherwise.',
    }),
    eventCursor,
  })
  .meta({ id: 'ConversationWithHistory' });

export const conversationRoutes = [
  route({
    method: 'post',
    path: '/conversations',
    operationId: 'createConversation',
    summary: 'Start a conversation',
    description:
      'You are added automatically. One other participant and no title makes a direct conversation; starting one that exists returns it with 200. A group has at most MAX_GROUP_MEMBERS members, you included (409 beyond). Creating groups is rate-limited per user: GROUPS_PER_WINDOW groups per GROUP_WINDOW_SECONDS, and MEMBER_ADDS_PER_WINDOW users named per MEMBER_ADD_WINDOW_SECONDS, shared with adding members (429 with Retry-After beyond; nothing is created).',
    tags: ['Conversations'],
    auth: true,
    body: CreateConversationBody,
    responses: {
      201: { description: 'Created', schema: Conversation, headers: { Location: "The conversation's URL" } },
      200: { description: 'The existing direct conversation', schema: Conversation },
      ...problems(400, 401, 403, 409, 413, 415, 429),
    },
    handler: async ({ deps, session, body }) => {
      const named = new Set(body.participantIds.filter((id) => id !== String(session.userId))).size;
      // Counted before any work; a direct conversation (one other, no title) is no group.
      const group = named > 1 || body.title !== undefined;
      await deps.rateLimits.takeMembership(session.userId, { group, users: group ? named : 0 });
      const { conversation, created } = await createConversation(deps, session.userId, body);
      return created
        ? { status: 201, body: conversation, headers: { Location: `/conversations/${conversation.id}` } }
        : { status: 200, body: conversation };
    },
  }),
  route({
    method: 'get',
    path: '/conversations',
    operationId: 'listConversations',
    summary: 'Your conversations, most recent activity first',
    tags: ['Conversations'],
    auth: true,
    query: z.strictObject({
      limit: limitParam(200, 50),
      cursor: z.string().max(200).optional().meta({
        description:
          'nextCursor from the previous page. A conversation with new activity while you page moves to the top, ahead of the cursor: open the event stream from eventCursor of the first page to learn of it.',
      }),
    }),
    responses: {
      200: { description: 'A page of conversations', schema: ConversationPage },
      ...problems(400, 401),
    },
    handler: async ({ deps, session, query }) => ({
      status: 200,
      body: await listConversations(deps, session.userId, query),
    }),
  }),
  route({
    method: 'get',
    path: '/conversations/{conversationId}',
    operationId: 'getConversation',
    summary: 'A conversation with a page of its messages, oldest to newest',
    description:
      'Without `before`/`after`, the newest page. `before` and `after` are message ids: `before` pages back to older messages, `after` forward to newer ones, and both together give the newest page strictly between them.',
    tags: ['Conversations'],
    auth: true,
    params: ConversationParams,
    query: z.strictObject({
      limit: limitParam(200, 50),
      before: messageId.optional(),
      after: messageId.optional(),
    }),
    responses: {
      200: { description: 'The conversation and messages', schema: ConversationWithHistory },
      ...problems(400, 401, 404),
    },
    handler: async ({ deps, session, params, query }) => ({
      status: 200,
      body: await getConversation(deps, session.userId, params.conversationId, query),
    }),
  }),
];
