import { z } from 'zod';
import { DOCS_FILES, DOCS_PAGE, docsFile } from '../lib/docs/reference-ui.ts';
import { buildAsyncApi } from '../lib/http/asyncapi.ts';
import { DOCS_POLICY } from '../lib/http/content-security.ts';
import { buildPostmanCollection } from '../lib/http/postman.ts';
import { notFound, unavailable } from '../lib/http/problems.ts';
import { route } from '../lib/http/route.ts';
import { ping } from '../lib/store/db.ts';
import packageJson from '../package.json' with { type: 'json' };
import { problems } from './responses.ts';

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

const OpenApiDocument = z
  .looseObject({ openapi: z.string().regex(/^3\.1\./), info: z.looseObject({}), paths: z.looseObject({}) })
  .meta({ id: 'OpenApiDocument', description: 'An OpenAPI 3.1 document' });

const AsyncApiDocument = z
  .looseObject({ asyncapi: z.literal('3.0.0'), info: z.looseObject({}), channels: z.looseObject({}) })
  .meta({
    id: 'AsyncApiDocument',
    description: 'An AsyncAPI 3.0 document',
    examples: [{ asyncapi: '3.0.0', info: { title: 'Parley events', version: '0.1.0' }, channels: {} }],
  });

/** The origin the client reached (behind a trusted proxy: the one it names). */
const originOf = (ctx: { protocol: string; host: string }): string => `${ctx.protocol}://${ctx.host}`;

const PostmanCollection = z
  .looseObject({ info: z.looseObject({ name: z.string() }), item: z.array(z.looseObject({})) })
  .meta({
    id: 'PostmanCollection',
    description: 'A Postman collection (v2.1)',
    examples: [{ info: { name: 'Parley' }, item: [] }],
  });

const DocsFileParams = z.object({
  file: z.string().meta({ description: `One of ${DOCS_FILES.join(', ')}`, example: 'swagger-ui.css' }),
});

// The reference UI's files change only with the package: an hour in a cache costs nothing.
const DOCS_FILE_CACHE = 'public, max-age=3600';

const Index = z
  .object({
    name: z.string(),
    version: z.string(),
    docs: z.string(),
    openapi: z.string(),
    health: z.string(),
  })
  .meta({
    id: 'Index',
    example: { name: 'Parley', version: '0.1.0', docs: '/docs', openapi: '/openapi.json', health: '/health' },
  });

export const operationRoutes = [
  route({
    method: 'get',
    path: '/',
    operationId: 'index',
    summary: 'Where to start: the API reference and the OpenAPI document',
    tags: ['Operations'],
    auth: false,
    responses: { 200: { description: 'Pointers to /docs and /openapi.json', schema: Index } },
    handler: () => ({
      status: 200,
      body: {
        name: 'Parley',
        version: packageJson.version,
        docs: '/docs',
        openapi: '/openapi.json',
        health: '/health',
      },
    }),
  }),
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
        await ping(deps.db);
      } catch (err) {
        // The client learns only that the database is down; the operator needs to know why.
        deps.log.error({ err }, 'health check failed: the database does not answer');
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
    // `servers` names the origin the client reached, so a tool that imports the document (Postman,
    // Swagger UI's "Try it out") talks to this server, behind a proxy too (TRUST_PROXY).
    handler: ({ deps, ctx }) => ({
      status: 200,
      body: {
        ...deps.openapi,
        servers: [{ url: originOf(ctx), description: 'This server' }],
      },
    }),
  }),
  route({
    method: 'get',
    path: '/asyncapi.json',
    operationId: 'asyncapi',
    summary: 'The real-time channels (SSE and long-poll) as an AsyncAPI 3.0 document',
    description:
      'One message per event type, with the same schemas as the `Event` of /openapi.json; `servers` names this server.',
    tags: ['Operations'],
    auth: false,
    responses: { 200: { description: 'The AsyncAPI document', schema: AsyncApiDocument } },
    handler: ({ deps, ctx }) => ({
      status: 200,
      body: buildAsyncApi(deps.openapi as Parameters<typeof buildAsyncApi>[0], originOf(ctx)),
    }),
  }),
  route({
    method: 'get',
    path: '/postman.json',
    operationId: 'postman',
    summary: 'This API as a Postman collection that runs as imported',
    description:
      'Generated from /openapi.json: `baseUrl` is this server, the login request stores the token the collection’s bearer auth uses, and the first requests register two fresh users.',
    tags: ['Operations'],
    auth: false,
    responses: { 200: { description: 'A Postman collection (v2.1)', schema: PostmanCollection } },
    handler: ({ deps, ctx }) => ({
      status: 200,
      body: buildPostmanCollection(
        deps.openapi as Parameters<typeof buildPostmanCollection>[0],
        originOf(ctx),
      ),
    }),
  }),
  route({
    method: 'get',
    path: '/docs',
    operationId: 'docs',
    summary: 'A rendered API reference',
    tags: ['Operations'],
    auth: false,
    description: 'Swagger UI, served from this server (no other host is contacted), reading /openapi.json.',
    responses: { 200: { description: 'An HTML page', contentType: 'text/html' } },
    handler: () => ({
      status: 200,
      body: DOCS_PAGE,
      headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': DOCS_POLICY },
    }),
  }),
  route({
    method: 'get',
    path: '/docs/{file}',
    operationId: 'docsFile',
    summary: 'A file of the rendered API reference',
    description: 'The stylesheet and scripts that /docs loads: Swagger UI as its npm package ships it.',
    tags: ['Operations'],
    auth: false,
    params: DocsFileParams,
    responses: {
      200: { description: 'A stylesheet or a script', contentType: 'text/*' },
      ...problems(404),
    },
    handler: async ({ params }) => {
      const file = await docsFile(params.file);
      if (!file) throw notFound(`There is no file ${params.file} in the API reference.`);
      return {
        status: 200,
        body: file.body,
        headers: { 'Content-Type': file.contentType, 'Cache-Control': DOCS_FILE_CACHE },
      };
    },
  }),
];
