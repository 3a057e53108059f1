import cors from '@koa/cors';
import Koa from 'koa';
import helmet from 'koa-helmet';
import { authRoutes } from '../routes/auth.ts';
import { conversationRoutes } from '../routes/conversations.ts';
import { eventRoutes } from '../routes/events.ts';
import { messageEditRoutes } from '../routes/message-edits.ts';
import { operationRoutes } from '../routes/operations.ts';
import { participantRoutes } from '../routes/participants.ts';
import { receiptRoutes } from '../routes/receipts.ts';
import { typingRoutes } from '../routes/typing.ts';
import { userRoutes } from '../routes/users.ts';
import type { Deps } from './deps.ts';
import { buildOpenApi } from './http/openapi.ts';
import { problemHandler } from './http/problems.ts';
import { requestLogger } from './http/request-log.ts';
import type { Route } from './http/route.ts';
import { buildRouter } from './http/router.ts';

export const ROUTES: readonly Route[] = [
  ...authRoutes,
  ...userRoutes,
  ...conversationRoutes,
  ...participantRoutes,
  ...messageEditRoutes,
  ...receiptRoutes,
  ...typingRoutes,
  ...eventRoutes,
  ...operationRoutes,
];

/** The Koa application for these dependencies. It never listens; main() and the specs do. */
export function createApp(deps: Omit<Deps, 'openapi'>, version: string): Koa {
  const app = new Koa({ proxy: deps.config.trustProxy });
  const full: Deps = { ...deps, openapi: buildOpenApi(ROUTES, version) };
  const router = buildRouter(ROUTES, full);
  // The logger wraps the problem handler so its line shows the status the client really got.
  app.use(requestLogger(deps.log));
  app.use(problemHandler());
  app.use(
    helmet({
      // The /docs page loads Swagger UI from its CDN; everything else is JSON.
      contentSecurityPolicy: false,
      crossOriginEmbedderPolicy: false,
    }),
  );
  if (deps.config.corsOrigins.length) {
    const allowed = new Set(deps.config.corsOrigins);
    app.use(
      cors({
        origin: (ctx) => (allowed.has(ctx.get('Origin')) ? ctx.get('Origin') : ''),
        credentials: true,
        exposeHeaders: ['Location', 'Retry-After', 'X-Request-Id'],
      }),
    );
  }
  app.use(router.routes());
  // Not `throw: true`: the thrown 405 would lose its Allow header; the problem handler renders it.
  app.use(router.allowedMethods());
  // Koa would print a stack for every client that hangs up mid-stream; the problem handler logs
  // what matters.
  app.silent = true;
  return app;
}
