import { z } from 'zod';
import { route } from '../lib/http/route.ts';
import { editMessage } from '../lib/message-edit.ts';
import { idParam, Message, messageBody } from '../lib/schemas.ts';
import { problems } from './responses.ts';

const EditMessageBody = z.strictObject({ body: messageBody });

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
