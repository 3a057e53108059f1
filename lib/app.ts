import cors from '@koa/cors';
import Koa from 'koa';
import { authRoutes } from '../routes/auth.ts';
import { commitRoutes } from '../routes/commits.ts';
import { conversationRoutes } from '../routes/conversations.ts';
import { deviceRoutes } from '../routes/devices.ts';
import { eventRoutes } from '../routes/events.ts';
import { keyRoutes } from '../routes/keys.ts';
import { messageRoutes } from '../routes/messages.ts';
import { metricsRoutes } from '../routes/metrics.ts';
import { operationRoutes } from '../routes/operations.ts';
import { participantRoutes } from '../routes/participants.ts';
import { pushRoutes } from '../routes/push.ts';
import { receiptRoutes } from '../routes/receipts.ts';
import { streamTicketRoutes } from '../routes/stream-tickets.ts';
import { typingRoutes } from '../routes/typing.ts';
import { userRoutes } from '../routes/users.ts';
import type { Deps } from './deps.ts';
import { API_DIRECTIVES } from './http/content-security.ts';
import { buildOpenApi } from './http/openapi.ts';
import { problemHandler } from './http/problem-handler.ts';
import { requestLogger } from './http/request-log.ts';
import type { Route } from './http/route.ts';
import { buildRouter } from './http/router.ts';
import { securityHeaders } from './http/security-headers.ts';

export const ROUTES: readonly Route[] = [
  ...authRoutes,
  ...userRoutes,
  ...deviceRoutes,
  ...keyRoutes,
  ...pushRoutes,
  ...conversationRoutes,
  ...participantRoutes,
  ...messageRoutes,
  ...commitRoutes,
  ...receiptRoutes,
  ...typingRoutes,
  ...eventRoutes,
  ...streamTicketRoutes,
  ...metricsRoutes,
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
  if (deps.metrics) app.use(deps.metrics.httpTimer);
  app.use(
    securityHeaders({
      // Not helmet's defaults, which allow styles and fonts from any https host and upgrade
      // requests to https (breaking plain-http hosts): the strict policy of
      // lib/http/content-security.ts, which /docs replaces with the one its page needs.
      contentSecurityPolicy: { useDefaults: false, directives: API_DIRECTIVES },
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
