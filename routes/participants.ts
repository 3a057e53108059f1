import { z } from 'zod';
import {
  addParticipants,
  changeRole,
  listParticipants,
  removeParticipant,
  renameConversation,
} from '../lib/chat/participants.ts';
import { route } from '../lib/http/route.ts';
import {
  Conversation,
  ConversationParams,
  EMBEDDED_PARTICIPANTS,
  idParam,
  limitParam,
  nameText,
  ParticipantWithPresence,
} from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

const ParticipantParams = z.object({ conversationId: idParam, userId: idParam });

const title = nameText(200);

const ParticipantPage = z
  .object({ participants: z.array(ParticipantWithPresence), nextCursor: z.string().nullable() })
  .meta({ id: 'ParticipantPage' });

export const participantRoutes = [
  route({
    method: 'get',
    path: '/conversations/{conversationId}/participants',
    operationId: 'listParticipants',
    summary: "A conversation's participants and their presence, longest-standing first",
    description: `Every current participant, a page at a time (a Conversation embeds only the first ${EMBEDDED_PARTICIPANTS}; its \`participantCount\` says how many there are), each with \`presence\` and \`lastSeenAt\`. Members only (404 otherwise). \`presence.updated\` travels only through conversations of at most PRESENCE_GROUP_LIMIT members (default 100): in a larger group, read the presence of the members on screen here.`,
    tags: ['Groups'],
    auth: true,
    params: ConversationParams,
    query: z.strictObject({
      limit: limitParam(200, 50),
      cursor: z.string().max(40).optional().meta({ description: 'nextCursor from the previous page' }),
    }),
    responses: {
      200: { description: 'A page of participants', schema: ParticipantPage },
      ...problems(400, 401, 404),
    },
    handler: async ({ deps, session, params, query }) => ({
      status: 200,
      body: await listParticipants(deps, session.userId, params.conversationId, query),
    }),
  }),
  route({
    method: 'post',
    path: '/conversations/{conversationId}/participants',
    operationId: 'addParticipants',
    summary: 'Add members to a group',
    description:
      'Owners and admins only. Users already in the group are left as they are. Each newcomer joins as `member`, sees history only from now on, and receives `conversation.created`; the members get `participant.added`. Direct conversations cannot gain members (400): start a group instead. An end-to-end encrypted conversation gains members only by an MLS commit that names them in `add` (409 `conversation-encrypted` here). A group has at most MAX_GROUP_MEMBERS members (default 1,000; 409 beyond). Rate-limited per caller: MEMBER_ADDS_PER_WINDOW users named per MEMBER_ADD_WINDOW_SECONDS, shared with creating groups (429 with Retry-After beyond; nobody is added).',
    tags: ['Groups'],
    auth: true,
    params: ConversationParams,
    body: z.strictObject({ userIds: z.array(z.string().max(32)).min(1).max(1000) }),
    responses: {
      200: { description: 'The conversation with its new members', schema: Conversation },
      ...problems(400, 401, 403, 404, 409, 413, 415, 429),
    },
    handler: async ({ deps, session, params, body }) => {
      await deps.rateLimits.takeMembership(session.userId, {
        group: false,
        users: new Set(body.userIds).size,
      });
      return {
        status: 200,
        body: await addParticipants(deps, session.userId, params.conversationId, body.userIds),
      };
    },
  }),
  route({
    method: 'delete',
    path: '/conversations/{conversationId}/participants/{userId}',
    operationId: 'removeParticipant',
    summary: 'Remove a member from a group, or leave it (your own id)',
    description:
      'Anyone may leave — an encrypted conversation too (the other members then remove them from the MLS group by a commit). Owners remove anyone; admins remove members; in an end-to-end encrypted conversation only by an MLS commit that names them in `remove` (409 `conversation-encrypted` here). Members get `participant.removed` — the removed member too, as their last event of the conversation. When the last owner leaves, the longest-standing member becomes owner (`conversation.updated`).',
    tags: ['Groups'],
    auth: true,
    params: ParticipantParams,
    responses: { 204: { description: 'Removed' }, ...problems(400, 401, 403, 404, 409) },
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
