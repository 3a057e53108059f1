import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Logger } from 'pino';

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Gives each request an id (kept from X-Request-Id when sane), a child logger, and one summary line. */
export function requestLogger(log: Logger): Koa.Middleware {
  return async function logRequest(ctx, next) {
    const incoming = ctx.get('X-Request-Id');
    const reqId = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', reqId);
    ctx.state.log = log.child({ reqId });
    const started = performance.now();
    try {
      await next();
    } finally {
      // The path only: query strings may carry cursors, and never log headers (tokens, cookies).
      ctx.state.log.info(
        {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
        },
        'request',
      );
    }
  };
}
