import { z } from 'zod';
import { listReceipts, markConversationRead, messageStatus } from '../lib/chat/receipts.ts';
import { route } from '../lib/http/route.ts';
import { ConversationParams, MessageParams, messageId } from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

export const Receipt = z
  .object({
    conversationId: z.string(),
    userId: z.string(),
    lastReadMessageId: z.string().nullable().meta({ description: 'Everything up to this message is read' }),
    lastDeliveredMessageId: z
      .string()
      .nullable()
      .meta({ description: 'Everything up to this message reached one of their devices' }),
  })
  .meta({
    id: 'Receipt',
    description: 'A member’s read and delivered marks in a conversation; also the data of `receipt.updated`.',
  });

const ReceiptList = z.object({ receipts: z.array(Receipt) }).meta({ id: 'ReceiptList' });

const MessageStatus = z
  .object({
    conversationId: z.string(),
    messageId: z.string(),
    status: z.enum(['sent', 'delivered', 'read']).meta({
      description:
        '`read` once every recipient read it, `delivered` once it reached every recipient, else `sent`',
    }),
    recipientCount: z.number().int().min(0).meta({
      description: 'Current members other than the sender who were members when it was sent',
    }),
    deliveredCount: z.number().int().min(0),
    readCount: z.number().int().min(0),
    deliveredTo: z.array(z.string()).meta({ description: 'User ids it reached (read implies delivered)' }),
    readBy: z.array(z.string()),
  })
  .meta({ id: 'MessageStatus' });

const statusRoute = (path: string, operationId: string, summary: string) =>
  route({
    method: 'get',
    path,
    operationId,
    summary,
    description:
      'Delivered: its `message.created` frame was written to one of the recipient’s SSE streams, or they polled `/events/poll` with a cursor at or after that event. Marks are written in batches (DELIVERY_FLUSH_MS), so delivered may trail by that long.',
    tags: ['Receipts'],
    auth: true,
    params: MessageParams,
    responses: {
      200: { description: 'Who has the message', schema: MessageStatus },
      ...problems(401, 404),
    },
    handler: async ({ deps, session, params }) => ({
      status: 200,
      body: await messageStatus(deps, session.userId, params.conversationId, params.messageId),
    }),
  });

const ReadResult = Receipt.extend({ unreadCount: z.number().int().min(0) }).meta({ id: 'ReadResult' });

export const receiptRoutes = [
  route({
    method: 'post',
    path: '/conversations/{conversationId}/read',
    operationId: 'markRead',
    summary: 'Mark everything up to a message as read',
    description:
      'Monotonic: an older `messageId` than your current mark changes nothing. Reading implies delivered. When the mark moves, every member (your other devices too) gets `receipt.updated`.',
    tags: ['Receipts'],
    auth: true,
    params: ConversationParams,
    body: z.strictObject({
      messageId: messageId.meta({ description: 'The newest message you have shown' }),
    }),
    responses: {
      200: { description: 'Your marks and unread count after this call', schema: ReadResult },
      ...problems(400, 401, 404, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await markConversationRead(deps, session.userId, params.conversationId, body.messageId),
    }),
  }),
  route({
    method: 'get',
    path: '/conversations/{conversationId}/receipts',
    operationId: 'listReceipts',
    summary: 'Every member’s read and delivered marks',
    description:
      'A message is read by a member when its id ≤ their `lastReadMessageId`, delivered when ≤ their `lastDeliveredMessageId`. Changes arrive as `receipt.updated`: read changes to every member, delivered changes to the senders concerned.',
    tags: ['Receipts'],
    auth: true,
    params: ConversationParams,
    responses: { 200: { description: 'The marks', schema: ReceiptList }, ...problems(401, 404) },
    handler: async ({ deps, session, params }) => ({
      status: 200,
      body: await listReceipts(deps, session.userId, params.conversationId),
    }),
  }),
  statusRoute(
    '/conversations/{conversationId}/message/{messageId}/receipts',
    'getMessageStatus',
    'Sent, delivered or read: where one message stands',
  ),
  statusRoute(
    '/conversations/{conversationId}/messages/{messageId}/receipts',
    'getMessageStatusAlias',
    'Where one message stands (alias of /message)',
  ),
];
