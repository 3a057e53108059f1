import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { REQUEST_EXAMPLES, SCHEMA_EXAMPLES } from './examples.ts';
import { PROBLEMS, problemType } from './problems.ts';
import type { ResponseSpec, Route } from './route.ts';
import { Problem } from './schemas.ts';

const INTRO = `Parley: a chat server with a REST API and real-time delivery over plain HTTP.

Authenticate with \`POST /login\`, then send \`Authorization: Bearer <token>\` (or rely on the session
cookie). Errors are RFC 9457 problem details (\`application/problem+json\`) whose \`type\` is one of:
${Object.entries(PROBLEMS)
  .map(([slug, p]) => `\`${problemType(slug as keyof typeof PROBLEMS)}\` (${p.status}, "${p.title}")`)
  .join(', ')}.

IDs are opaque strings, timestamps ISO 8601 UTC. Request bodies are JSON (415 otherwise), at most
64 KiB (413); unknown fields are rejected with 400.`;

const problem = (description: string): ResponseSpec => ({
  description,
  schema: Problem,
  contentType: 'application/problem+json',
});

/**
 * The problems the shared middleware can answer for a route, whatever its handler does, so the
 * document never depends on each route remembering them. A route's own entry wins.
 */
function impliedProblems(r: Route): Record<number, ResponseSpec> {
  const jsonBody = r.body !== undefined && !('raw' in (r.body as object));
  const implied: Record<number, ResponseSpec> = {};
  if (jsonBody) {
    implied[400] = problem('The request is not valid (see `errors`)');
    implied[413] = problem('Body too large');
    implied[415] = problem('Wrong content type');
  }
  if (r.auth) implied[401] = problem('Not authenticated, or the session was revoked or expired');
  if (r.auth && r.method !== 'get') {
    implied[403] = problem('Not allowed (also: a cookie-authenticated write that fails the CSRF check)');
  }
  // Node's HTTP parser answers this one before Parley sees the request, without a body.
  implied[431] = {
    description: 'Request headers larger than Node accepts (16 KiB), answered without a body',
  };
  // Any operation can fail unexpectedly; the body then says nothing more than its title.
  implied[500] = problem('Internal Server Error');
  return implied;
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  Auth: 'Accounts and sessions: register, log in, log out',
  Users: 'People: profiles, avatars, account deletion',
  Devices: 'The browsers, apps and CLIs you are signed in on',
  Conversations: 'Direct and group conversations you are in, with unread counts',
  Groups: 'Membership and roles in group conversations',
  Messages: 'Sending, editing and deleting messages',
  Receipts: 'Read and delivered marks',
  Typing: 'Typing indicators (ephemeral events)',
  Events: 'Real-time delivery: Server-Sent Events and long-poll, with the same events and cursors',
  Operations: 'Health, this document and its rendered reference',
};

/** Every tag the routes use, in order of first use, each with its description. */
function tagsOf(routes: readonly Route[]) {
  const names = [...new Set(routes.flatMap((r) => r.tags))];
  return names.map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? `${name} operations` }));
}

type Schema = Record<string, unknown>;
type Doc = {
  components: { schemas: Record<string, Schema> };
  paths: Record<
    string,
    Record<string, { operationId: string; requestBody?: { content: Record<string, { schema: Schema }> } }>
  >;
};

/**
 * Adds the examples of lib/http/examples.ts to the schemas that declare none themselves: each
 * component (zod-openapi names a component's response variant `<Name>Output`) and each inline JSON
 * request body.
 */
function addExamples(doc: Doc): void {
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const example = SCHEMA_EXAMPLES[name.replace(/Output$/, '')];
    if (example !== undefined && !('example' in schema) && !('examples' in schema))
      schema.examples = [example];
  }
  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) {
      const schema = op.requestBody?.content['application/json']?.schema;
      const example = REQUEST_EXAMPLES[op.operationId];
      if (schema && !schema.$ref && example !== undefined && !('examples' in schema))
        schema.examples = [example];
    }
  }
}

/**
 * The OpenAPI 3.1 document of these routes, generated from the same schemas that validate requests.
 * `origin` becomes its one server (GET /openapi.json passes the origin the client reached).
 */
export function buildOpenApi(routes: readonly Route[], version: string, origin?: string): object {
  const paths: ZodOpenApiPathsObject = {};
  for (const r of routes) {
    const operation: ZodOpenApiOperationObject = {
      operationId: r.operationId,
      summary: r.summary,
      // The linters want a description on every operation; most summaries say it all.
      description: r.description ?? r.summary,
      tags: r.tags,
      ...(r.auth ? {} : { security: [] }),
      requestParams: {
        ...(r.params ? { path: r.params as never } : {}),
        ...(r.query ? { query: r.query as never } : {}),
      },
      responses: Object.fromEntries(
        Object.entries({ ...impliedProblems(r), ...r.responses }).map(([status, spec]) => [
          status,
          {
            description: spec.description,
            ...(spec.headers
              ? {
                  headers: Object.fromEntries(
                    Object.entries(spec.headers).map(([name, description]) => [
                      name,
                      { description, schema: { type: 'string' } },
                    ]),
                  ) as never,
                }
              : {}),
            ...(spec.schema || spec.contentType
              ? {
                  content: {
                    [spec.contentType ?? 'application/json']: spec.schema ? { schema: spec.schema } : {},
                  },
                }
              : {}),
          },
        ]),
      ),
    };
    if (r.body !== undefined) {
      const body = r.body as object;
      operation.requestBody =
        'raw' in body
          ? {
              required: true,
              content: Object.fromEntries(
                (body.raw as string[]).map((t) => [t, { schema: { type: 'string', contentMediaType: t } }]),
              ),
            }
          : { required: true, content: { 'application/json': { schema: r.body as never } } };
    }
    paths[r.path] = { ...paths[r.path], [r.method]: operation };
  }
  const doc = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Parley',
      version,
      description: INTRO,
      contact: { name: 'The Parley maintainers' },
      license: { name: 'MIT', identifier: 'MIT' },
    },
    ...(origin ? { servers: [{ url: origin, description: 'This server' }] } : {}),
    tags: tagsOf(routes),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The token from POST /login' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'parley_session' },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
    paths,
  });
  addExamples(doc as unknown as Doc);
  return doc;
}
