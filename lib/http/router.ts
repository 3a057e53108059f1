import Router from '@koa/router';
import type Koa from 'koa';
import { koaBody } from 'koa-body';
import type { Deps } from '../deps.ts';
import { requireSession } from './auth.ts';
import { badRequest, unsupportedMediaType } from './problems.ts';
import type { Route } from './route.ts';
import { parseInput } from './validate.ts';

export const JSON_BODY_LIMIT = '64kb';

const jsonParser = (limit: string) =>
  koaBody({
    json: true,
    urlencoded: false,
    text: false,
    multipart: false,
    jsonLimit: limit,
    jsonStrict: true,
  });

/**
 * Reads the JSON body, up to `limit`. A body declared gzip, deflate or br that does not decompress
 * makes zlib throw a plain error (no HTTP status), which would be a 500 with a stack trace per
 * request: it is the client's bad input, a 400.
 */
const readJsonBody = (limit: string): Koa.Middleware => {
  const parseJson = jsonParser(limit);
  return async (ctx, next) => {
    try {
      await parseJson(ctx, async () => {});
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (typeof status === 'number' || !ctx.get('Content-Encoding')) throw err;
      throw badRequest(`The body is not valid ${ctx.get('Content-Encoding')} data.`);
    }
    await next();
  };
};

/** `/users/{userId}` → `/users/:userId`. */
const koaPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');

/** Mounts every route: authenticate → parse and validate → handle → reply. */
export function buildRouter(routes: readonly Route[], deps: Deps): Router {
  const router = new Router();
  for (const r of routes) {
    const middleware: Koa.Middleware[] = [];
    if (r.auth) {
      middleware.push(async (ctx, next) => {
        ctx.state.session = await (r.authenticate ?? requireSession)(ctx, deps);
        await next();
      });
    }
    const jsonBody = r.body !== undefined && !('raw' in (r.body as object));
    if (jsonBody) {
      middleware.push(
        async (ctx, next) => {
          if (!ctx.is('application/json')) throw unsupportedMediaType('Send the body as application/json.');
          await next();
        },
        readJsonBody(r.bodyLimit ?? JSON_BODY_LIMIT),
      );
    }
    middleware.push(async (ctx) => {
      const reply = await r.handler({
        params: r.params ? parseInput(r.params as never, ctx.params, 'path') : undefined,
        query: r.query ? parseInput(r.query as never, ctx.query, 'query string') : undefined,
        body: jsonBody ? parseInput(r.body as never, ctx.request.body, 'request body') : undefined,
        session: ctx.state.session,
        deps,
        ctx,
      });
      if (!reply) return;
      ctx.status = reply.status;
      if (reply.headers) ctx.set(reply.headers);
      if (reply.body !== undefined) ctx.body = reply.body;
    });
    router[r.method](r.operationId, koaPath(r.path), ...middleware);
  }
  return router;
}
