import { z } from 'zod';
import { route } from '../lib/http/route.ts';
import { avatarUrl, displayName, password, User, username } from '../lib/schemas.ts';
import { SESSION_COOKIE } from '../lib/sessions.ts';
import { nowIso } from '../lib/time.ts';
import { login, register } from '../lib/users.ts';
import { problems } from './responses.ts';

/**
 * Secure when COOKIE_SECURE is set (TLS ends at a proxy) or the request itself came over TLS.
 * The cookies library refuses a Secure cookie on a plain connection (a 500) unless told that TLS
 * ends upstream, which is exactly what COOKIE_SECURE says.
 */
function secureCookie(ctx: import('koa').Context, configured: boolean): boolean {
  if (!configured) return ctx.secure;
  ctx.cookies.secure = true;
  return true;
}

const RegisterBody = z.strictObject({
  username,
  password,
  displayName: displayName.optional(),
  avatarUrl: avatarUrl.optional(),
});

const LoginBody = z.strictObject({ username: z.string().max(64), password: z.string().max(256) });

const LoginResult = z
  .object({ token: z.string(), expiresAt: z.string(), user: User })
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
      ctx.cookies.set(SESSION_COOKIE, result.token, {
        httpOnly: true,
        sameSite: 'lax',
        secure: secureCookie(ctx, deps.config.cookieSecure),
        expires: new Date(result.expiresAt),
        overwrite: true,
      });
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
      ctx.cookies.set(SESSION_COOKIE, null, {
        httpOnly: true,
        sameSite: 'lax',
        secure: secureCookie(ctx, deps.config.cookieSecure),
      });
      return { status: 204 };
    },
  }),
];
