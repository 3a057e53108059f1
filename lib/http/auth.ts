import type Koa from 'koa';
import type { Config } from '../config.ts';
import { SESSION_COOKIE, type Session, type Sessions } from '../security/sessions.ts';
import { crossSiteWrite, unauthenticated } from './problems.ts';
import { setSessionCookie } from './session-cookie.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The token a request carries: the Bearer header wins over the cookie. */
function tokenOf(ctx: Koa.Context): { token: string; via: 'bearer' | 'cookie' } | null {
  const header = ctx.get('Authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".');
    return { token: match[1]!, via: 'bearer' };
  }
  const cookie = ctx.cookies.get(SESSION_COOKIE);
  return cookie ? { token: cookie, via: 'cookie' } : null;
}

/** Resolves the caller's session or throws 401; applies the CSRF rule to cookie-authenticated writes. */
/** What authenticating a request uses. */
interface AuthDeps {
  readonly sessions: Sessions;
  readonly config: Pick<Config, 'corsOrigins' | 'cookieSecure'>;
}

export async function requireSession(ctx: Koa.Context, deps: AuthDeps): Promise<Session> {
  const found = tokenOf(ctx);
  if (!found) throw unauthenticated();
  const session = await deps.sessions.authenticate(found.token);
  if (!session) throw unauthenticated('The session token is invalid, expired or revoked. Log in again.');
  if (found.via === 'cookie' && !SAFE_METHODS.has(ctx.method)) checkCrossSite(ctx, deps);
  // A browser's cookie keeps its own expiry: when the session slides, the cookie must too.
  if (found.via === 'cookie' && session.renewedUntil) {
    setSessionCookie(ctx, deps.config, found.token, session.renewedUntil);
  }
  return session;
}

/**
 * Browsers attach cookies to cross-site requests; a forged one either carries a foreign Origin or
 * cannot set a JSON content type without a CORS preflight we would refuse.
 */
function checkCrossSite(ctx: Koa.Context, deps: AuthDeps): void {
  const origin = ctx.get('Origin');
  if (origin) {
    const sameOrigin = origin === `${ctx.protocol}://${ctx.host}`;
    if (!sameOrigin && !deps.config.corsOrigins.includes(origin)) {
      throw crossSiteWrite(`Cookie-authenticated writes from origin ${origin} are not allowed.`);
    }
    return;
  }
  if (!ctx.is('application/json')) {
    throw crossSiteWrite(
      'Cookie-authenticated writes need a JSON content type or a same-origin Origin header.',
    );
  }
}
