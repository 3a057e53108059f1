import getRawBody from 'raw-body';
import { z } from 'zod';
import {
  deleteUser,
  getAvatar,
  getUser,
  listUsers,
  removeAvatar,
  setAvatar,
  updateUser,
} from '../lib/chat/users.ts';
import { tooLarge } from '../lib/http/problems.ts';
import { route } from '../lib/http/route.ts';
import {
  avatarUrl,
  displayName,
  idParam,
  limitParam,
  password,
  plainText,
  User,
  username,
} from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

const AVATAR_LIMIT = 1024 * 1024;
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

const UserParams = z.object({ userId: idParam });

const UserPage = z
  .object({ users: z.array(User), nextCursor: z.string().nullable() })
  .meta({ id: 'UserPage' });

const UpdateUserBody = z.strictObject({
  username: username.optional(),
  displayName: displayName.optional(),
  avatarUrl: avatarUrl.nullable().optional(),
  password: password.optional(),
  currentPassword: z.string().max(256).optional(),
});

export const userRoutes = [
  route({
    method: 'get',
    path: '/users',
    operationId: 'listUsers',
    summary: 'Find users by username or display name prefix',
    tags: ['Users'],
    auth: true,
    query: z.strictObject({
      q: plainText()
        .max(64)
        .optional()
        .meta({ description: 'Case-insensitive prefix of username or display name' }),
      limit: limitParam(200, 50),
      cursor: z.string().max(200).optional().meta({ description: 'nextCursor from the previous page' }),
    }),
    responses: { 200: { description: 'A page of users', schema: UserPage }, ...problems(400, 401) },
    handler: async ({ deps, query, session }) => ({
      status: 200,
      body: await listUsers(deps, session.userId, query),
    }),
  }),
  route({
    method: 'get',
    path: '/users/{userId}',
    operationId: 'getUser',
    summary: 'Get a user',
    tags: ['Users'],
    auth: true,
    params: UserParams,
    responses: { 200: { description: 'The user', schema: User }, ...problems(401, 404) },
    handler: async ({ deps, params, session }) => ({
      status: 200,
      body: await getUser(deps, session.userId, params.userId),
    }),
  }),
  route({
    method: 'put',
    path: '/users/{userId}',
    operationId: 'updateUser',
    summary: 'Update your own profile or password',
    description:
      'Changing `password` needs `currentPassword` and revokes your other sessions. Wrong `currentPassword` guesses count against the same throttle as failed logins (429 once spent).',
    tags: ['Users'],
    auth: true,
    params: UserParams,
    body: UpdateUserBody,
    responses: {
      200: { description: 'The updated user', schema: User },
      ...problems(400, 401, 403, 404, 409, 413, 415, 429),
    },
    handler: async ({ deps, params, body, session, ctx }) => ({
      status: 200,
      body: await updateUser(deps, session, params.userId, body, ctx.ip),
    }),
  }),
  route({
    method: 'delete',
    path: '/users/{userId}',
    operationId: 'deleteUser',
    summary: 'Delete your own account',
    description:
      "Revokes every session and closes their streams; the username becomes free; sent messages stay in others' history.",
    tags: ['Users'],
    auth: true,
    params: UserParams,
    responses: { 204: { description: 'Deleted' }, ...problems(401, 403, 404) },
    handler: async ({ deps, params, session }) => {
      await deleteUser(deps, session, params.userId);
      return { status: 204 };
    },
  }),
  route({
    method: 'put',
    path: '/users/{userId}/avatar',
    operationId: 'uploadAvatar',
    summary: 'Upload your profile picture (PNG, JPEG, WebP or GIF, at most 1 MiB)',
    description:
      "The image is recognised by parsing its bytes, never by the declared type: its header and dimensions must parse and its container must end where the upload ends (only zero padding may follow), else 415. At most 4096 × 4096 = 16,777,216 pixels, else 413. It is served with `Content-Security-Policy: default-src 'none'; sandbox` and `Content-Disposition: inline`.",
    tags: ['Users'],
    auth: true,
    params: UserParams,
    body: { raw: IMAGE_TYPES },
    responses: {
      200: { description: 'The user, with avatarUrl pointing at the image', schema: User },
      ...problems(401, 403, 404, 413, 415),
    },
    handler: async ({ deps, params, session, ctx }) => {
      const bytes = await getRawBody(ctx.req, { limit: AVATAR_LIMIT }).catch((err: { type?: string }) => {
        if (err.type === 'entity.too.large') throw tooLarge('An avatar may be at most 1 MiB.');
        throw err;
      });
      return { status: 200, body: await setAvatar(deps, session, params.userId, bytes) };
    },
  }),
  route({
    method: 'get',
    path: '/users/{userId}/avatar',
    operationId: 'getAvatar',
    summary: 'The uploaded profile picture',
    tags: ['Users'],
    auth: true,
    params: UserParams,
    responses: {
      200: { description: 'The image, with its content type and ETag', contentType: 'image/*' },
      304: { description: 'Not modified (If-None-Match matched)' },
      ...problems(401, 404),
    },
    handler: async ({ deps, params, ctx }) => {
      const avatar = await getAvatar(deps, params.userId);
      const etag = `"${avatar.etag}"`;
      const headers = {
        ETag: etag,
        'Cache-Control': 'private, max-age=3600',
        'Content-Type': avatar.content_type,
        // Opened on its own, the image can run nothing and load nothing, whatever its bytes hide.
        'Content-Security-Policy': "default-src 'none'; sandbox",
        'Content-Disposition': 'inline',
      };
      if (ctx.get('If-None-Match') === etag) return { status: 304, headers };
      return { status: 200, headers, body: avatar.bytes };
    },
  }),
  route({
    method: 'delete',
    path: '/users/{userId}/avatar',
    operationId: 'deleteAvatar',
    summary: 'Remove your uploaded profile picture',
    tags: ['Users'],
    auth: true,
    params: UserParams,
    responses: { 204: { description: 'Removed' }, ...problems(401, 403, 404) },
    handler: async ({ deps, params, session }) => {
      await removeAvatar(deps, session, params.userId);
      return { status: 204 };
    },
  }),
];
