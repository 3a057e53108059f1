import { z } from 'zod';
import { route } from '../lib/http/route.ts';
import { addParticipants, changeRole, removeParticipant, renameConversation } from '../lib/membership.ts';
import { Conversation, idParam } from '../lib/schemas.ts';
import { problems } from './responses.ts';

const ConversationParams = z.object({ conversationId: idParam });
const ParticipantParams = z.object({ conversationId: idParam, userId: idParam });

const title = z
  .string()
  .transform((s) => s.trim())
  .pipe(z.string().min(1).max(200));

export const participantRoutes = [
  route({
    method: 'post',
    path: '/conversations/{conversationId}/participants',
    operationId: 'addParticipants',
    summary: 'Add members to a group',
    description:
      'Owners and admins only. Users already in the group are left as they are. Each newcomer joins as `member`, sees history only from now on, and receives `conversation.created`; the members get `participant.added`. Direct conversations cannot gain members (400): start a group instead. A group has at most MAX_GROUP_MEMBERS members (default 1,000; 409 beyond).',
    tags: ['Groups'],
    auth: true,
    params: ConversationParams,
    body: z.strictObject({ userIds: z.array(z.string().max(32)).min(1).max(1000) }),
    responses: {
      200: { description: 'The conversation with its new members', schema: Conversation },
      ...problems(400, 401, 403, 404, 409, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await addParticipants(deps, session.userId, params.conversationId, body.userIds),
    }),
  }),
  route({
    method: 'delete',
    path: '/conversations/{conversationId}/participants/{userId}',
    operationId: 'removeParticipant',
    summary: 'Remove a member from a group, or leave it (your own id)',
    description:
      'Anyone may leave. Owners remove anyone; admins remove members. Members get `participant.removed` — the removed member too, as their last event of the conversation. When the last owner leaves, the longest-standing member becomes owner (`conversation.updated`).',
    tags: ['Groups'],
    auth: true,
    params: ParticipantParams,
    responses: { 204: { description: 'Removed' }, ...problems(400, 401, 403, 404) },
    handler: async ({ deps, session, params }) => {
      await removeParticipant(deps, session.userId, params.conversationId, params.userId);
      return { status: 204 };
    },
  }),
  route({
    method: 'put',
    path: '/conversations/{conversationId}/participants/{userId}',
    operationId: 'changeParticipantRole',
    summary: "Change a member's role",
    description: 'Owners only. A group keeps at least one owner (409 for demoting the last one).',
    tags: ['Groups'],
    auth: true,
    params: ParticipantParams,
    body: z.strictObject({ role: z.enum(['owner', 'admin', 'member']) }),
    responses: {
      200: { description: 'The conversation with the new role', schema: Conversation },
      ...problems(400, 401, 403, 404, 409, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await changeRole(deps, session.userId, params.conversationId, params.userId, body.role),
    }),
  }),
  route({
    method: 'put',
    path: '/conversations/{conversationId}',
    operationId: 'renameConversation',
    summary: 'Rename a group',
    description: 'Owners and admins only; `null` clears the title. Members get `conversation.updated`.',
    tags: ['Groups'],
    auth: true,
    params: ConversationParams,
    body: z.strictObject({ title: title.nullable() }),
    responses: {
      200: { description: 'The renamed conversation', schema: Conversation },
      ...problems(400, 401, 403, 404, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await renameConversation(deps, session.userId, params.conversationId, body.title),
    }),
  }),
];
