import { z } from 'zod';
import { route } from '../lib/http/route.ts';
import { editMessage } from '../lib/message-edit.ts';
import { idParam, Message } from '../lib/schemas.ts';
import { problems } from './responses.ts';

const characters = (s: string): number => [...s.trim()].length;

// The same rules as sending: 1–4000 characters after trimming.
const EditMessageBody = z.strictObject({
  body: z
    .string()
    .max(16_000)
    .refine((s) => characters(s) >= 1, 'must not be blank')
    .refine((s) => characters(s) <= 4000, 'must be at most 4000 characters after trimming')
    // Stored byte for byte: a lone surrogate would come back as U+FFFD, and PostgreSQL refuses NUL.
    .refine((s) => !/[\p{Cs}\0]/u.test(s), 'must be well-formed Unicode without NUL characters'),
});

const editRoute = (path: string, operationId: string, summary: string) =>
  route({
    method: 'put',
    path,
    operationId,
    summary,
    description:
      'Only its sender may (403 otherwise). The message keeps its id and place; `editedAt` is set and every member gets `message.updated` with the new Message.',
    tags: ['Messages'],
    auth: true,
    params: z.object({ conversationId: idParam, messageId: idParam }),
    body: EditMessageBody,
    responses: {
      200: { description: 'The edited message', schema: Message },
      ...problems(400, 401, 403, 404, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await editMessage(deps, session.userId, params.conversationId, params.messageId, body.body),
    }),
  });

export const messageEditRoutes = [
  editRoute('/conversations/{conversationId}/message/{messageId}', 'editMessage', 'Edit a message you sent'),
  editRoute(
    '/conversations/{conversationId}/messages/{messageId}',
    'editMessageAlias',
    'Edit a message you sent (alias of /message)',
  ),
];
