import { z } from 'zod';
import {
  createConversation,
  deleteMessage,
  getConversation,
  listConversations,
  sendMessage,
} from '../lib/conversations.ts';
import { route } from '../lib/http/route.ts';
import { Conversation, eventCursor, idParam, limitParam, Message, messageBody } from '../lib/schemas.ts';
import { problems } from './responses.ts';

const MAX_PARTICIPANTS = 1000;

const CreateConversationBody = z.strictObject({
  participantIds: z.array(z.string().max(32)).min(1).max(MAX_PARTICIPANTS),
  title: z
    .string()
    .transform((s) => s.trim())
    .pipe(z.string().min(1).max(200))
    .optional(),
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

const SendMessageBody = z.strictObject({
  body: messageBody,
  clientMessageId: z.string().min(1).max(64).optional().meta({
    description: 'Your id for this send: repeating it returns the first message instead of a duplicate.',
  }),
});

const messageIdQuery = z
  .string()
  .regex(/^[1-9]\d{0,14}$/, 'must be a message id')
  .transform(Number)
  .optional();
const ConversationParams = z.object({ conversationId: idParam });
const MessageParams = z.object({ conversationId: idParam, messageId: idParam });

const sendRoute = (path: string, operationId: string, summary: string) =>
  route({
    method: 'post',
    path,
    operationId,
    summary,
    tags: ['Messages'],
    auth: true,
    params: ConversationParams,
    body: SendMessageBody,
    responses: {
      201: { description: 'The new message', schema: Message, headers: { Location: "The message's URL" } },
      200: { description: 'The message first sent with this clientMessageId', schema: Message },
      ...problems(400, 401, 403, 404, 413, 415, 429),
    },
    handler: async ({ deps, session, params, body }) => {
      await deps.rateLimits.messages.take(session.userId);
      const { message, created } = await sendMessage(deps, session.userId, params.conversationId, body);
      const location = `/conversations/${message.conversationId}/message/${message.id}`;
      return created
        ? { status: 201, body: message, headers: { Location: location } }
        : { status: 200, body: message };
    },
  });

const deleteRoute = (path: string, operationId: string) =>
  route({
    method: 'delete',
    path,
    operationId,
    summary: 'Delete a message you sent',
    tags: ['Messages'],
    auth: true,
    params: MessageParams,
    responses: { 204: { description: 'Deleted' }, ...problems(401, 403, 404) },
    handler: async ({ deps, session, params }) => {
      await deleteMessage(deps, session.userId, params.conversationId, params.messageId);
      return { status: 204 };
    },
  });

export const conversationRoutes = [
  route({
    method: 'post',
    path: '/conversations',
    operationId: 'createConversation',
    summary: 'Start a conversation',
    description:
      'You are added automatically. One other participant and no title makes a direct conversation; starting one that exists returns it with 200.',
    tags: ['Conversations'],
    auth: true,
    body: CreateConversationBody,
    responses: {
      201: { description: 'Created', schema: Conversation, headers: { Location: "The conversation's URL" } },
      200: { description: 'The existing direct conversation', schema: Conversation },
      ...problems(400, 401, 403, 413, 415),
    },
    handler: async ({ deps, session, body }) => {
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
    query: z.strictObject({ limit: limitParam(200, 50), before: messageIdQuery, after: messageIdQuery }),
    responses: {
      200: { description: 'The conversation and messages', schema: ConversationWithHistory },
      ...problems(400, 401, 404),
    },
    handler: async ({ deps, session, params, query }) => ({
      status: 200,
      body: await getConversation(deps, session.userId, params.conversationId, query),
    }),
  }),
  sendRoute('/conversations/{conversationId}/message', 'sendMessage', 'Send a message'),
  sendRoute(
    '/conversations/{conversationId}/messages',
    'sendMessageAlias',
    'Send a message (alias of /message)',
  ),
  deleteRoute('/conversations/{conversationId}/message/{messageId}', 'deleteMessage'),
  deleteRoute('/conversations/{conversationId}/messages/{messageId}', 'deleteMessageAlias'),
];
