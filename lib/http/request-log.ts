import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Logger } from 'pino';

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives each request an id (kept from X-Request-Id when sane), a child logger, and one summary line.
 * A response the handler took over and left open (an SSE stream: `ctx.respond = false`) is logged
 * when it ends, so its line carries how long it was open; the middleware chain has returned by then.
 */
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
      const line = { method: ctx.method, path: ctx.path, status: ctx.status };
      const write = logLine(ctx.state.log, line, started);
      if (ctx.respond === false && !ctx.res.closed) ctx.res.once('close', write);
      else write();
    }
  };
}

/** Writes the summary line; a closure of only what it needs, as it may outlive the request. */
function logLine(
  log: Logger,
  line: { method: string; path: string; status: number },
  started: number,
): () => void {
  return () => log.info({ ...line, ms: Math.round(performance.now() - started) }, 'request');
}
