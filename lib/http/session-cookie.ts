import type Koa from 'koa';
import { SESSION_COOKIE } from '../security/sessions.ts';

/**
 * Secure when COOKIE_SECURE is set (TLS ends at a proxy) or the request itself came over TLS.
 * The cookies library refuses a Secure cookie on a plain connection (a 500) unless told that TLS
 * ends upstream, which is exactly what COOKIE_SECURE says.
 */
function secureCookie(ctx: Koa.Context, configured: boolean): boolean {
  if (!configured) return ctx.secure;
  ctx.cookies.secure = true;
  return true;
}

/** The cookie settings of Config (COOKIE_SECURE, COOKIE_SAMESITE; SameSite defaults to Lax). */
interface CookieConfig {
  readonly cookieSecure: boolean;
  readonly cookieSameSite?: 'lax' | 'strict' | 'none';
}

/** Sets the session cookie to `token` until `expiresAt` (at login, and whenever the session slides). */
export function setSessionCookie(
  ctx: Koa.Context,
  config: CookieConfig,
  token: string,
  expiresAt: string,
): void {
  ctx.cookies.set(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: config.cookieSameSite ?? 'lax',
    secure: secureCookie(ctx, config.cookieSecure),
    expires: new Date(expiresAt),
    overwrite: true,
  });
}

export function clearSessionCookie(ctx: Koa.Context, config: CookieConfig): void {
  ctx.cookies.set(SESSION_COOKIE, null, {
    httpOnly: true,
    sameSite: config.cookieSameSite ?? 'lax',
    secure: secureCookie(ctx, config.cookieSecure),
  });
}
