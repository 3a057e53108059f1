import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { PROBLEMS, problemType } from '../errors.ts';
import { Problem } from '../schemas.ts';
import type { ResponseSpec, Route } from './route.ts';

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
  // Any operation can fail unexpectedly; the body then says nothing more than its title.
  implied[500] = problem('Internal Server Error');
  return implied;
}

/** The OpenAPI 3.1 document of these routes, generated from the same schemas that validate requests. */
export function buildOpenApi(routes: readonly Route[], version: string): object {
  const paths: ZodOpenApiPathsObject = {};
  for (const r of routes) {
    const operation: ZodOpenApiOperationObject = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
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
  return createDocument({
    openapi: '3.1.0',
    info: { title: 'Parley', version, description: INTRO },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The token from POST /login' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'parley_session' },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
    paths,
  });
}
