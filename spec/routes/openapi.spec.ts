import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { expect } from 'chai';
import { ROUTES } from '../../lib/app.ts';
import { buildOpenApi } from '../../lib/http/openapi.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { Api, type ApiResponse } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { checkResponses } from '../helpers/openapi.ts';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = (formatsModule as unknown as { default: (ajv: Ajv2020) => void }).default;

interface Operation {
  operationId: string;
  security?: unknown[];
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })),
  );

describe('GET /openapi.json', () => {
  const t = useServer();
  let doc: Doc;
  before(async () => {
    const res = await new Api(t.url).get('/openapi.json');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    doc = res.body;
  });

  it('serves an OpenAPI 3.1 document of every route, without authentication', () => {
    expect(doc.openapi).to.match(/^3\.1\.\d+$/);
    const served = JSON.parse(JSON.stringify(buildOpenApi(ROUTES, packageJson.version, t.url)));
    expect(doc).to.deep.equal(served);
    expect(operations(doc)).to.have.length(ROUTES.length);
  });

  it('gives every operation a unique operationId', () => {
    const ids = operations(doc).map((o) => o.op.operationId);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('declares every path template parameter', () => {
    for (const { name, path, op } of operations(doc)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      expect(declared, name).to.have.members(inPath);
    }
  });

  it('documents 401 on every authenticated operation, and none on the public ones', () => {
    const publicOps = [
      'GET /',
      'POST /register',
      'POST /login',
      'GET /health',
      'GET /openapi.json',
      'GET /docs',
      'GET /docs/{file}',
      'GET /asyncapi.json',
      'GET /postman.json',
      // No session: its own METRICS_TOKEN (401 without it).
      'GET /metrics',
    ];
    for (const { name, op } of operations(doc)) {
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      expect(isPublic, name).to.equal(publicOps.includes(name));
      if (!isPublic) expect(op.responses, name).to.have.property('401');
    }
  });

  it('documents 400, 413 and 415 on every operation with a JSON body, and 500 everywhere', () => {
    for (const { name, op } of operations(doc)) {
      if (op.requestBody?.content['application/json']) {
        expect(op.responses, name).to.include.keys('400', '413', '415');
      }
      expect(op.responses, name).to.have.property('500');
    }
  });

  it('has schemas that compile as JSON Schema 2020-12 with every $ref resolved', () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema(doc, 'openapi.json');
    const refs: string[] = [];
    for (const { name, path, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries(response.content ?? {})) {
          if (!media.schema) continue;
          const method = name.split(' ')[0]!.toLowerCase();
          const pointer = ['paths', path, method, 'responses', status, 'content', type, 'schema']
            .map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1'))
            .join('/');
          refs.push(`openapi.json#/${pointer}`);
        }
      }
    }
    expect(refs.length).to.be.greaterThan(ROUTES.length);
    // One compile for all of them: an unresolvable $ref or an invalid schema throws, naming it.
    expect(() => ajv.compile({ anyOf: refs.map(($ref) => ({ $ref })) })).not.to.throw();
  });
});

describe('GET /docs', () => {
  const t = useServer();

  it('renders the API reference as HTML pointing at /openapi.json', async () => {
    const res = await new Api(t.url).get('/docs');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(res.text).to.match(/swagger-ui/i);
    expect(res.text).to.include('/openapi.json');
  });
});

describe('GET /health', () => {
  const t = useServer();

  it('answers 200 {status: "ok"} without authentication', async () => {
    const res = await new Api(t.url).get('/health');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ status: 'ok' });
  });
});

describe('the OpenAPI conformance check', () => {
  const doc = buildOpenApi(ROUTES, packageJson.version) as Doc;
  const response = (status: number, body: unknown, type = 'application/json'): ApiResponse => ({
    status,
    headers: new Headers(type ? { 'content-type': type } : {}),
    body,
    text: body === undefined ? '' : JSON.stringify(body),
  });
  const check = (method: string, path: string, res: ApiResponse) =>
    checkResponses(doc, [{ method, path, response: res, test: 'self-test' }]).failures;
  const user = {
    id: '1',
    username: 'ann',
    displayName: 'Ann',
    avatarUrl: null,
    createdAt: '2026-11-25T08:45:23.123Z',
    updatedAt: '2026-11-25T08:45:23.123Z',
    presence: 'offline',
    lastSeenAt: null,
  };
  const problem = { type: 'urn:parley:problem:not-found', title: 'Not found', status: 404, detail: 'No.' };

  it('accepts a response the document describes', () => {
    expect(check('GET', '/users/1', response(200, user))).to.deep.equal([]);
    expect(check('GET', '/users/1?x=1', response(404, problem, 'application/problem+json'))).to.deep.equal(
      [],
    );
  });

  it('fails an undocumented status', () => {
    expect(check('GET', '/users/1', response(418, problem, 'application/problem+json'))).to.have.length(1);
  });

  it('fails an undocumented content type', () => {
    expect(check('GET', '/users/1', response(200, user, 'text/plain'))).to.have.length(1);
  });

  it('fails a body that does not match the schema', () => {
    const [failure] = check('GET', '/users/1', response(200, { ...user, id: 1 }));
    expect(failure).to.match(/GET \/users\/\{userId\} 200: body does not match/);
    expect(check('GET', '/users/1', response(200, { ...user, createdAt: 'yesterday' }))).to.have.length(1);
  });

  it('fails a body where the document promises none', () => {
    expect(check('DELETE', '/users/1', response(204, { ok: true }))).to.have.length(1);
  });

  it('accepts the router 404 and 405 problems, and fails anything else on an unknown route', () => {
    expect(check('GET', '/nope', response(404, problem, 'application/problem+json'))).to.deep.equal([]);
    const notAllowed = { ...problem, type: 'urn:parley:problem:method-not-allowed', status: 405 };
    expect(check('PATCH', '/users/1', response(405, notAllowed, 'application/problem+json'))).to.deep.equal(
      [],
    );
    expect(check('GET', '/nope', response(200, {}))).to.have.length(1);
  });

  it('lists the operations nobody exercised', () => {
    const { unexercised } = checkResponses(doc, [
      { method: 'GET', path: '/health', response: response(200, { status: 'ok' }), test: 'self-test' },
    ]);
    expect(unexercised).to.include('GET /users/{userId}');
    expect(unexercised).not.to.include('GET /health');
  });
});
