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

// Any operation can fail unexpectedly; the body then says nothing more than its title.
const INTERNAL_ERROR: Record<number, ResponseSpec> = {
  500: { description: 'Internal Server Error', schema: Problem, contentType: 'application/problem+json' },
};

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
        Object.entries({ ...r.responses, ...INTERNAL_ERROR }).map(([status, spec]) => [
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
