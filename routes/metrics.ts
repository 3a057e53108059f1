import { createHash, timingSafeEqual } from 'node:crypto';
import { notFound, unauthenticated } from '../lib/http/problems.ts';
import { route } from '../lib/http/route.ts';
import { problems } from './responses.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares hashes, so the time taken says nothing about the token. */
const sameToken = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));

export const metricsRoutes = [
  route({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: "This node's metrics in Prometheus text format",
    description:
      'Off (404) unless METRICS_TOKEN is set; then it wants `Authorization: Bearer <METRICS_TOKEN>` (Prometheus: `authorization: {credentials: …}` in the scrape config).',
    tags: ['Operations'],
    auth: false,
    responses: {
      200: { description: 'Prometheus exposition format', contentType: 'text/plain' },
      ...problems(401, 404),
    },
    handler: async ({ deps, ctx }) => {
      const token = deps.config.metricsToken;
      if (!token || !deps.metrics) throw notFound('Metrics are off: set METRICS_TOKEN to turn them on.');
      const given = /^Bearer\s+(\S+)$/i.exec(ctx.get('Authorization'))?.[1];
      if (!given || !sameToken(given, token))
        throw unauthenticated('Send Authorization: Bearer <METRICS_TOKEN>.');
      return {
        status: 200,
        body: await deps.metrics.registry.metrics(),
        headers: { 'Content-Type': deps.metrics.registry.contentType },
      };
    },
  }),
];
