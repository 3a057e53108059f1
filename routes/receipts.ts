import { z } from 'zod';
import { route } from '../lib/http/route.ts';
import { markConversationRead } from '../lib/receipts.ts';
import { idParam } from '../lib/schemas.ts';
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
    params: z.object({ conversationId: idParam }),
    body: z.strictObject({
      messageId: z
        .string()
        .regex(/^[1-9]\d{0,14}$/, 'must be a message id')
        .transform(Number)
        .meta({ description: 'The newest message you have shown' }),
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
];
