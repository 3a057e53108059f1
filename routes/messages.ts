import { z } from 'zod';
import { deleteMessage, editMessage, getMessage, sendMessage } from '../lib/chat/messages.ts';
import { route } from '../lib/http/route.ts';
import {
  base64Bytes,
  ConversationParams,
  Message,
  MessageParams,
  messageBody,
  plainText,
} from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

/** An encrypted message's most bytes: an MLS PrivateMessage of a long text, or a small attachment. */
const CIPHERTEXT_BYTES = 64 * 1024;
/** A body with a 64 KiB ciphertext in base64 (87,384 characters) and the rest, with room to spare. */
const MESSAGE_BODY_LIMIT = '128kb';

const ciphertext = base64Bytes(
  CIPHERTEXT_BYTES,
  'end-to-end encrypted conversations only (and required there): the MLS PrivateMessage (an MLSMessage)',
);

/** Exactly one of `body` and `ciphertext`; which one the conversation wants is checked with it. */
const oneContent = (m: { body?: unknown; ciphertext?: unknown }) =>
  (m.body === undefined) !== (m.ciphertext === undefined);
const ONE_CONTENT = {
  message: 'send either `body` (a plain conversation) or `ciphertext` (an encrypted one)',
  path: ['body'],
};

const SendMessageBody = z
  .strictObject({
    body: messageBody.optional().meta({ description: 'plain conversations only (and required there)' }),
    ciphertext: ciphertext.optional(),
    clientMessageId: plainText().min(1).max(64).optional().meta({
      description: 'Your id for this send: repeating it returns the first message instead of a duplicate.',
    }),
  })
  .refine(oneContent, ONE_CONTENT);

const sendRoute = (path: string, operationId: string, summary: string) =>
  route({
    method: 'post',
    path,
    operationId,
    summary,
    description:
      'In a plain conversation send `body`; in an end-to-end encrypted one send `ciphertext` (base64, at most 64 KiB decoded): a `body` there is refused (400), and the message has `body: null`. The request body may be up to 128 KB here.',
    tags: ['Messages'],
    auth: true,
    params: ConversationParams,
    body: SendMessageBody,
    bodyLimit: MESSAGE_BODY_LIMIT,
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

const getRoute = (path: string, operationId: string, summary: string) =>
  route({
    method: 'get',
    path,
    operationId,
    summary,
    description: 'A message of a conversation you are in, sent after you joined (404 otherwise).',
    tags: ['Messages'],
    auth: true,
    params: MessageParams,
    responses: { 200: { description: 'The message', schema: Message }, ...problems(401, 404) },
    handler: async ({ deps, session, params }) => ({
      status: 200,
      body: await getMessage(deps, session.userId, params.conversationId, params.messageId),
    }),
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

const EditMessageBody = z
  .strictObject({
    body: messageBody.optional().meta({ description: 'plain conversations only (and required there)' }),
    ciphertext: ciphertext.optional(),
  })
  .refine(oneContent, ONE_CONTENT);

const editRoute = (path: string, operationId: string, summary: string) =>
  route({
    method: 'put',
    path,
    operationId,
    summary,
    description:
      'Only its sender may (403 otherwise). The message keeps its id and place; `editedAt` is set and every member gets `message.updated` with the new Message. In an end-to-end encrypted conversation the edit is a new `ciphertext` (encrypted at the current epoch) that replaces the old one; `body` is refused there (400).',
    tags: ['Messages'],
    auth: true,
    params: MessageParams,
    body: EditMessageBody,
    bodyLimit: MESSAGE_BODY_LIMIT,
    responses: {
      200: { description: 'The edited message', schema: Message },
      ...problems(400, 401, 403, 404, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await editMessage(deps, session.userId, params.conversationId, params.messageId, body),
    }),
  });

export const messageRoutes = [
  sendRoute('/conversations/{conversationId}/message', 'sendMessage', 'Send a message'),
  sendRoute(
    '/conversations/{conversationId}/messages',
    'sendMessageAlias',
    'Send a message (alias of /message)',
  ),
  getRoute('/conversations/{conversationId}/message/{messageId}', 'getMessage', 'One message'),
  getRoute(
    '/conversations/{conversationId}/messages/{messageId}',
    'getMessageAlias',
    'One message (alias of /message)',
  ),
  deleteRoute('/conversations/{conversationId}/message/{messageId}', 'deleteMessage'),
  deleteRoute('/conversations/{conversationId}/messages/{messageId}', 'deleteMessageAlias'),
  editRoute('/conversations/{conversationId}/message/{messageId}', 'editMessage', 'Edit a message you sent'),
  editRoute(
    '/conversations/{conversationId}/messages/{messageId}',
    'editMessageAlias',
    'Edit a message you sent (alias of /message)',
  ),
];
