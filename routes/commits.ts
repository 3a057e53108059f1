import { z } from 'zod';
import { getGroupInfo, postCommit } from '../lib/e2ee/commits.ts';
import { route } from '../lib/http/route.ts';
import { base64Bytes, ConversationParams } from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

// The most bytes of each MLS blob, decoded. A Commit is small unless it carries a path for a big
// tree; a Welcome grows with the members it adds and a GroupInfo with the group (a ratchet tree
// extension for 1,000 members is a few hundred KiB). Events carry the commit and the welcome, so
// these also bound an event (SSE cuts a client STREAM_BUFFER_BYTES, default 1 MiB, behind).
const COMMIT_BYTES = 256 * 1024;
const WELCOME_BYTES = 512 * 1024;
const GROUP_INFO_BYTES = 512 * 1024;
/** The three blobs in base64 and the user ids, with room to spare. */
const COMMIT_BODY_LIMIT = '2mb';

const userIds = z.array(z.string().max(32)).max(1000);

const CommitBody = z
  .strictObject({
    epoch: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).meta({
      description:
        'The epoch the commit was made in (the group’s epoch before it): it must be the current one.',
    }),
    commit: base64Bytes(COMMIT_BYTES, 'the MLS Commit (an MLSMessage)'),
    welcome: base64Bytes(
      WELCOME_BYTES,
      'the MLS Welcome for the users in `add` (required with `add`)',
    ).optional(),
    groupInfo: base64Bytes(
      GROUP_INFO_BYTES,
      'the GroupInfo of the new epoch, for new devices to join by external commit (send it with every commit)',
    ).optional(),
    add: userIds.optional().meta({
      description:
        'Users this commit adds: they become members (owners and admins only, as POST …/participants) and get `mls.welcome`; users already members are left as they are and get the welcome too.',
    }),
    remove: userIds.optional().meta({
      description:
        'Users this commit removes: their membership ends with it (owners and admins only; only owners remove owners and admins). Not yourself (400): leave instead. Users no longer members are accepted as they are.',
    }),
  })
  .meta({
    example: {
      epoch: 3,
      commit: 'AAEAAgAAAAAD',
      welcome: 'AAEAAwAAAAAE',
      groupInfo: 'AAEABAAAAAAE',
      add: ['9'],
    },
  });

const CommitAccepted = z
  .object({ epoch: z.number().int().min(0).meta({ description: 'the epoch the group is at now' }) })
  .meta({ id: 'CommitAccepted', example: { epoch: 4 } });

const GroupInfo = z
  .object({
    epoch: z.number().int().min(0).meta({ description: 'the epoch this GroupInfo describes' }),
    groupInfo: z.string().nullable().meta({ description: 'base64; null until a commit carries one' }),
  })
  .meta({ id: 'GroupInfo', example: { epoch: 4, groupInfo: 'AAEABA…' } });

export const commitRoutes = [
  route({
    method: 'post',
    path: '/conversations/{conversationId}/commits',
    operationId: 'postCommit',
    summary: 'Post an MLS commit to an encrypted conversation',
    description:
      'Accepted (201) only if `epoch` is the conversation’s current epoch, which then advances by exactly one — atomically with the membership change in `add`/`remove`. Any other epoch, in the past or the future, and every other commit at an epoch that one has already won, gets 409 `epoch-mismatch` with `currentEpoch`: process the `mls.commit` events you have not seen yet and retry at the new epoch. Members get `mls.commit` in the conversation’s order with its messages (apply it before any later message); users in `add` get `mls.welcome`. Any member may commit (an update, a removal of a departed member’s or device’s leaves, an external join by a new device of theirs); adding and removing follow the participants routes’ roles (403). A plain conversation answers 409 `not-encrypted`; one you are not in, 404. Commit ≤ 256 KiB, welcome and groupInfo ≤ 512 KiB each (decoded); the request body may be up to 2 MB here.',
    tags: ['End-to-end encryption'],
    auth: true,
    params: ConversationParams,
    body: CommitBody,
    bodyLimit: COMMIT_BODY_LIMIT,
    responses: {
      201: { description: 'Accepted: the group is at the returned epoch now', schema: CommitAccepted },
      ...problems(400, 401, 403, 404, 409, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 201,
      body: await postCommit(deps, session.userId, params.conversationId, body),
    }),
  }),
  route({
    method: 'get',
    path: '/conversations/{conversationId}/group-info',
    operationId: 'getGroupInfo',
    summary: "An encrypted conversation's newest GroupInfo",
    description:
      'The GroupInfo the newest commit that carried one published, and its epoch: a new device of a member joins the group by an external commit built from it (posted to …/commits at the current epoch). Members only (404 otherwise); a plain conversation answers 409 `not-encrypted`.',
    tags: ['End-to-end encryption'],
    auth: true,
    params: ConversationParams,
    responses: { 200: { description: 'The GroupInfo', schema: GroupInfo }, ...problems(401, 404, 409) },
    handler: async ({ deps, session, params }) => ({
      status: 200,
      body: await getGroupInfo(deps.db, session.userId, params.conversationId),
    }),
  }),
];
