import type Koa from 'koa';
import type { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { Session } from '../security/sessions.ts';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json when a schema is given. */
  contentType?: string;
  headers?: Record<string, string>;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface Request<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  session: Session;
  deps: Deps;
  ctx: Koa.Context;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * One operation of the API: its HTTP shape (which also feeds the OpenAPI document) and its handler.
 * A handler returns its reply, or `undefined` when it has answered on its own (SSE).
 */
export interface Route<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** OpenAPI style: `/users/{userId}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** False for the few public endpoints (register, login, health, docs). */
  auth: boolean;
  /**
   * How an `auth` route finds its session when not only from the session token: GET /events also
   * takes a single-use stream ticket in its query. Absent: the Bearer header or the cookie.
   */
  authenticate?: (ctx: Koa.Context, deps: Deps) => Promise<Session>;
  params?: P;
  query?: Q;
  /** A JSON body schema, or `raw` for a binary upload the handler reads itself. */
  body?: B | { raw: string[] };
  /** The most a JSON body may weigh, as koa-body reads it (`'1mb'`); JSON_BODY_LIMIT when absent. */
  bodyLimit?: string;
  responses: Record<number, ResponseSpec>;
  handler: (req: Request<P, Q, B>) => Promise<Reply | undefined> | Reply | undefined;
}

/** Declares a route with its types inferred from its schemas. */
export const route = <
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B = undefined,
>(
  def: Route<P, Q, B>,
): Route => def as unknown as Route;

/**
 * For a handler that answers on its own and leaves the response open after it returns (SSE): Koa
 * stops responding for it, and lets go of the request's context.
 *
 * Koa holds each context until its response finishes, only to hand a late socket error to
 * ctx.onerror — which, once the headers are out, can do nothing but emit it to the silent app. For
 * a stream open for hours, that hold keeps the context, its state and Koa's listeners alive for
 * hours (about 5 KiB per idle stream). Koa learns of the finish through `on-finished`, which takes an
 * 'end' event on the message as finished; a ServerResponse never emits one itself and nothing else
 * listens for it, so emitting it releases Koa's hold without touching the socket. The caller owns the
 * response from here: its errors, its end, and its log line (lib/http/request-log.ts waits for it).
 */
export function takeOverResponse(ctx: Koa.Context): void {
  ctx.respond = false;
  ctx.res.emit('end');
}
