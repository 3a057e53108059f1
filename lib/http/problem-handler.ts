import type Koa from 'koa';
import { HttpProblem, type ProblemSlug } from './problems.ts';

const CONTENT_TYPE = 'application/problem+json; charset=utf-8';

// Errors thrown by Koa's own helpers and koa-body carry a status; these are the ones we expect.
const SLUG_BY_STATUS: Record<number, ProblemSlug> = {
  400: 'bad-request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  406: 'not-acceptable',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'rate-limited',
  431: 'bad-request',
};

const DETAIL_BY_STATUS: Record<number, string> = {
  400: 'The request could not be read. Send a JSON object.',
  404: 'There is nothing at this path.',
  405: 'This path does not support this method; see the Allow header.',
  413: 'The request body is larger than this endpoint accepts.',
  415: 'Send the body as application/json.',
  501: 'The server does not implement this method; see the Allow header.',
};

/** Renders every failure as application/problem+json; a 500 is logged in full and shown as nothing more. */
export function problemHandler(): Koa.Middleware {
  return async function renderProblems(ctx, next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) {
        send(ctx, new HttpProblem('not-found', DETAIL_BY_STATUS[404]!));
      } else if (ctx.status === 405 && typeof ctx.body !== 'object') {
        // The router has set Allow; send() keeps it.
        send(ctx, new HttpProblem('method-not-allowed', DETAIL_BY_STATUS[405]!));
      } else if (ctx.status === 501 && typeof ctx.body !== 'object') {
        send(ctx, new HttpProblem('not-implemented', DETAIL_BY_STATUS[501]!));
      }
    } catch (err) {
      const problem = toProblem(err);
      if (problem.status >= 500) ctx.state.log?.error({ err }, 'request failed');
      if (ctx.headerSent || ctx.respond === false) {
        // A stream that already sent its headers can only be ended.
        ctx.res.destroy();
        return;
      }
      send(ctx, problem);
    }
  };
}

function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown; type?: unknown };
  const status = Number(e?.status ?? e?.statusCode);
  const slug = SLUG_BY_STATUS[status];
  if (slug && status < 500) {
    const detail =
      e.type === 'entity.parse.failed'
        ? 'The body is not valid JSON.'
        : (DETAIL_BY_STATUS[status] ?? 'The request could not be processed.');
    return new HttpProblem(slug, detail);
  }
  return new HttpProblem('internal', 'Internal Server Error');
}

function send(ctx: Koa.Context, problem: HttpProblem): void {
  ctx.status = problem.status;
  for (const [name, value] of Object.entries(problem.headers)) ctx.set(name, value);
  ctx.body = JSON.stringify(problem);
  ctx.type = CONTENT_TYPE;
}
