import { z } from 'zod';
import { login, register } from '../lib/chat/users.ts';
import { route } from '../lib/http/route.ts';
import {
  avatarUrl,
  displayName,
  LoginDevice,
  password,
  plainText,
  User,
  username,
} from '../lib/http/schemas.ts';
import { clearSessionCookie, setSessionCookie } from '../lib/http/session-cookie.ts';
import { nowIso } from '../lib/util/time.ts';
import { problems } from './responses.ts';

const RegisterBody = z.strictObject({
  username,
  password,
  displayName: displayName.optional(),
  avatarUrl: avatarUrl.optional(),
});

const LoginBody = z.strictObject({
  username: plainText().max(64),
  password: z.string().max(256),
  device: LoginDevice.optional(),
});

const LoginResult = z
  .object({ token: z.string(), expiresAt: z.string(), deviceId: z.string(), user: User })
  .meta({ id: 'LoginResult' });

export const authRoutes = [
  route({
    method: 'post',
    path: '/register',
    operationId: 'register',
    summary: 'Create an account',
    tags: ['Users'],
    auth: false,
    body: RegisterBody,
    responses: {
      201: { description: 'The new user', schema: User, headers: { Location: "The user's URL" } },
      ...problems(400, 409, 413, 415, 429),
    },
    handler: async ({ deps, body, ctx }) => {
      await deps.rateLimits.registrations.take(ctx.ip);
      const user = await register(deps, body);
      return { status: 201, body: user, headers: { Location: `/users/${user.id}` } };
    },
  }),
  route({
    method: 'post',
    path: '/login',
    operationId: 'login',
    summary: 'Log in: returns a token and sets the session cookie',
    description:
      'The token is the same sealed value as the HttpOnly cookie. Send it as `Authorization: Bearer <token>`. Unknown user and wrong password get the same 401; repeated failures get 429.',
    tags: ['Users'],
    auth: false,
    body: LoginBody,
    responses: {
      200: { description: 'Logged in', schema: LoginResult },
      ...problems(400, 401, 413, 415, 429),
    },
    handler: async ({ deps, body, ctx }) => {
      const result = await login(deps, body, ctx.ip);
      setSessionCookie(ctx, deps.config, result.token, result.expiresAt);
      return { status: 200, body: result };
    },
  }),
  route({
    method: 'post',
    path: '/logout',
    operationId: 'logout',
    summary: 'Revoke this session (and close its event streams)',
    tags: ['Users'],
    auth: true,
    responses: { 204: { description: 'Logged out' }, ...problems(401, 403) },
    handler: async ({ deps, session, ctx }) => {
      await deps.sessions.end(session.id, nowIso());
      clearSessionCookie(ctx, deps.config);
      return { status: 204 };
    },
  }),
];
