import { koaSwagger } from 'koa2-swagger-ui';
import { z } from 'zod';
import { unavailable } from '../lib/errors.ts';
import { route } from '../lib/http/route.ts';
import { problems } from './responses.ts';

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

const OpenApiDocument = z
  .looseObject({ openapi: z.string().regex(/^3\.1\./), info: z.looseObject({}), paths: z.looseObject({}) })
  .meta({ id: 'OpenApiDocument', description: 'An OpenAPI 3.1 document' });

const swaggerUi = koaSwagger({ routePrefix: false, swaggerOptions: { url: '/openapi.json' } });

export const operationRoutes = [
  route({
    method: 'get',
    path: '/health',
    operationId: 'health',
    summary: 'Whether the server and its database answer',
    tags: ['Operations'],
    auth: false,
    responses: { 200: { description: 'Healthy', schema: Health }, ...problems(503) },
    handler: async ({ deps }) => {
      try {
        await deps.db.raw('select 1');
      } catch {
        throw unavailable('The database does not answer.');
      }
      return { status: 200, body: { status: 'ok' } };
    },
  }),
  route({
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    summary: 'This API as an OpenAPI 3.1 document',
    tags: ['Operations'],
    auth: false,
    responses: { 200: { description: 'The OpenAPI document', schema: OpenApiDocument } },
    handler: ({ deps }) => ({ status: 200, body: deps.openapi }),
  }),
  route({
    method: 'get',
    path: '/docs',
    operationId: 'docs',
    summary: 'A rendered API reference',
    tags: ['Operations'],
    auth: false,
    responses: { 200: { description: 'An HTML page', contentType: 'text/html' } },
    handler: async ({ ctx }) => {
      await swaggerUi(ctx, async () => {});
      return undefined;
    },
  }),
];
