/**
 * OpenAPI conformance, as a mocha root-hook plugin (package.json "mocha".require): every response
 * any spec receives through `Api` is recorded, and after the whole run each one is validated against
 * the OpenAPI document — method + path template + status + content type + body schema. Operations
 * the suite never exercised are listed too.
 *
 * Coverage is enforced (a failure) for every operation when every spec file ran.
 * PARLEY_OPENAPI_COVERAGE=off|warn|strict overrides that.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import type { Context } from 'mocha';
import { ROUTES } from '../../lib/app.ts';
import { buildOpenApi } from '../../lib/http/openapi.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { type ApiResponse, responseObservers } from './client.ts';

interface Seen {
  method: string;
  path: string;
  response: ApiResponse;
  /** The spec that made the request, for pointing at the culprit. */
  test: string;
}

const seen: Seen[] = [];
let currentTest = '(outside a test)';

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  /** Literal segments first, so `/events/poll` wins over `/events/{id}`. */
  params: number;
  responses: Record<string, { content?: Record<string, unknown> }>;
}

type OpenApiDoc = {
  paths: Record<string, Record<string, { responses: Operation['responses'] }>>;
};

const DOC_ID = 'openapi.json';

function operationsOf(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+');
    for (const [method, op] of Object.entries(item)) {
      ops.push({
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${escaped}$`),
        params: (template.match(/\{/g) ?? []).length,
        responses: op.responses,
      });
    }
  }
  return ops.sort((a, b) => a.params - b.params);
}

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

const mediaTypeOf = (headers: Headers): string | null =>
  headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() || null;

/** `image/*` in the document covers `image/png` in a response. */
function findContentKey(content: Record<string, unknown>, mediaType: string): string | undefined {
  return Object.keys(content).find((key) => {
    const k = key.toLowerCase();
    if (k === mediaType || k === '*/*') return true;
    return k.endsWith('/*') && mediaType.startsWith(k.slice(0, -1));
  });
}

/** Every way the recorded responses disagree with the document, one line each. */
export function checkResponses(doc: OpenApiDoc, records: readonly Seen[]) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: under NodeNext its default import is the module object.
  const addFormats = (formatsModule as unknown as { default: (ajv: Ajv2020) => void }).default;
  addFormats(ajv);
  ajv.addSchema(doc, DOC_ID);
  const validators = new Map<string, ReturnType<typeof ajv.compile>>();
  const validatorFor = (ref: string) => {
    let v = validators.get(ref);
    if (!v) {
      v = ajv.compile({ $ref: `${DOC_ID}#${ref}` });
      validators.set(ref, v);
    }
    return v;
  };
  const operations = operationsOf(doc);
  const exercised = new Set<string>();
  const failures = new Set<string>();

  for (const rec of records) {
    const path = rec.path.split('?')[0]!;
    const { status, headers, body, text } = rec.response;
    const where = `${rec.method} ${rec.path} → ${status} (in "${rec.test}")`;
    const mediaType = mediaTypeOf(headers);
    const candidates = operations.filter((o) => o.pattern.test(path));
    const op = candidates.find((o) => o.method === rec.method);
    if (!op) {
      // Not an operation of the API: only the router's own 404/405/501 problems may answer.
      if (candidates.length ? status !== 405 && status !== 501 && rec.method !== 'OPTIONS' : status !== 404) {
        failures.add(`${where}: no such operation in the document, and the answer is not a 404/405/501`);
      } else if (rec.method === 'OPTIONS') {
        // Answered by the router (or CORS) with Allow and no body.
      } else if (mediaType !== 'application/problem+json') {
        failures.add(`${where}: a bad route must answer application/problem+json, not ${mediaType}`);
      } else if (!validatorFor('/components/schemas/Problem')(body)) {
        failures.add(
          `${where}: body is not a Problem: ${ajv.errorsText(validatorFor('/components/schemas/Problem').errors)}`,
        );
      }
      continue;
    }
    const opName = `${op.method} ${op.template}`;
    exercised.add(opName);
    const response = op.responses[String(status)];
    if (!response) {
      failures.add(`${opName}: status ${status} is not documented (${where})`);
      continue;
    }
    const content = response.content;
    if (!content || Object.keys(content).length === 0) {
      if (text.length > 0)
        failures.add(`${opName} ${status}: documented without a body, but one came (${where})`);
      continue;
    }
    if (!mediaType) {
      failures.add(`${opName} ${status}: documented with a body, but no Content-Type came (${where})`);
      continue;
    }
    const key = findContentKey(content, mediaType);
    if (!key) {
      failures.add(
        `${opName} ${status}: content type ${mediaType} is not documented (only ${Object.keys(content).join(', ')}) (${where})`,
      );
      continue;
    }
    const media = content[key] as { schema?: unknown };
    if (!media.schema || !/json/.test(mediaType)) continue;
    const validate = validatorFor(
      `/${pointer('paths', op.template, op.method.toLowerCase(), 'responses', String(status), 'content', key, 'schema')}`,
    );
    if (!validate(body)) {
      failures.add(
        `${opName} ${status}: body does not match the schema: ${ajv.errorsText(validate.errors)} (${where})`,
      );
    }
  }
  const unexercised = operations
    .map((o) => `${o.method} ${o.template}`)
    .filter((name) => !exercised.has(name));
  return { failures: [...failures], unexercised };
}

function specFilesOnDisk(): string[] {
  const root = resolve('spec');
  return (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.spec.ts'))
    .map((f) => resolve(join(root, f)));
}

function loadedFiles(suite: Mocha.Suite, into = new Set<string>()): Set<string> {
  if (suite.file) into.add(resolve(suite.file));
  for (const child of suite.suites) loadedFiles(child, into);
  return into;
}

/** Strict when every spec file ran (or PARLEY_OPENAPI_COVERAGE says so); spec/helpers/event-types.ts uses it too. */
export function coverageMode(root: Mocha.Suite): 'off' | 'warn' | 'strict' {
  const forced = process.env.PARLEY_OPENAPI_COVERAGE;
  if (forced === 'off' || forced === 'warn' || forced === 'strict') return forced;
  const loaded = loadedFiles(root);
  return specFilesOnDisk().every((f) => loaded.has(f)) ? 'strict' : 'off';
}

export const mochaHooks = {
  beforeAll() {
    responseObservers.push(({ method, path, response }) => {
      seen.push({ method: method.toUpperCase(), path, response, test: currentTest });
    });
  },
  beforeEach(this: Context) {
    currentTest = this.currentTest?.fullTitle() ?? '(unknown test)';
  },
  afterEach() {
    currentTest = '(in a hook)';
  },
  afterAll(this: Context) {
    const doc = buildOpenApi(ROUTES, packageJson.version) as OpenApiDoc;
    const { failures, unexercised } = checkResponses(doc, seen);
    const root = this.test?.parent;
    const mode = root ? coverageMode(root) : 'off';
    const problems = [...failures];
    if (mode !== 'off' && unexercised.length) {
      console.warn(
        `\nOpenAPI: ${unexercised.length} operation(s) the suite never exercised:\n${unexercised.map((o) => `  ${o}`).join('\n')}\n`,
      );
      if (mode === 'strict')
        problems.push(`operations never exercised by the suite: ${unexercised.join(', ')}`);
    }
    console.log(
      `OpenAPI conformance: ${seen.length} responses checked against /openapi.json (${mode === 'off' ? 'partial run: coverage not checked' : `coverage ${mode}`}).`,
    );
    if (problems.length) {
      throw new Error(`The responses do not conform to /openapi.json:\n  - ${problems.join('\n  - ')}`);
    }
  },
};
