import Router from '@koa/router';
import type Koa from 'koa';
import { koaBody } from 'koa-body';
import type { Deps } from '../deps.ts';
import { unsupportedMediaType } from '../errors.ts';
import { requireSession } from './auth.ts';
import type { Route } from './route.ts';
import { parseInput } from './validate.ts';

export const JSON_BODY_LIMIT = '64kb';

const parseJson = koaBody({
  json: true,
  urlencoded: false,
  text: false,
  multipart: false,
  jsonLimit: JSON_BODY_LIMIT,
  jsonStrict: true,
});

/** `/users/{userId}` → `/users/:userId`. */
const koaPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');

/** Mounts every route: authenticate → parse and validate → handle → reply. */
export function buildRouter(routes: readonly Route[], deps: Deps): Router {
  const router = new Router();
  for (const r of routes) {
    const middleware: Koa.Middleware[] = [];
    if (r.auth) {
      middleware.push(async (ctx, next) => {
        ctx.state.session = await requireSession(ctx, deps);
        await next();
      });
    }
    const jsonBody = r.body !== undefined && !('raw' in (r.body as object));
    if (jsonBody) {
      middleware.push(async (ctx, next) => {
        if (!ctx.is('application/json')) throw unsupportedMediaType('Send the body as application/json.');
        await next();
      }, parseJson);
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
