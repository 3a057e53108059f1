import { expect } from 'chai';
import fc from 'fast-check';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { onPostgres } from '../helpers/postgres.ts';
import { pushCaughtUp } from '../helpers/push.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Hostile requests against every operation of /openapi.json: never a 5xx, never a crash, and a
// 4xx never changes stored data. FUZZ_SECONDS sets the budget (npm run test:soak runs longer).

const BUDGET_MS = Number(process.env.FUZZ_SECONDS ?? 15) * 1000;
// A long-poll may legitimately wait; every other request must answer well within this.
const REQUEST_TIMEOUT_MS = 3000;

interface Operation {
  method: string;
  path: string;
  operationId: string;
  query: string[];
  bodyFields: string[];
  hasBody: boolean;
}

interface FuzzRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', ''];

const hugeString = fc.constantFrom(
  'x'.repeat(70_000),
  '9'.repeat(5000),
  '\u{1F600}'.repeat(5000),
  '\0'.repeat(100),
);
const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\t\n',
    '\u202e',
    'null',
    'undefined',
    'NaN',
    '-1',
    '0',
    '1e309',
    '0x10',
    '../..',
    '%00',
  ),
  hugeString,
);
const anything: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    oddString,
    fc.integer(),
    fc.double(),
    fc.constantFrom(null, true, false, 0, -0, Number.MAX_SAFE_INTEGER + 2, 1e308, -1),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constantFrom(...HOSTILE_KEYS)), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** JSON text that JSON.stringify cannot produce: prototype keys as own keys, deep nesting, duplicates. */
const trickyJson = fc.oneof(
  fc.constantFrom(
    '{"__proto__":{"isAdmin":true},"body":"x"}',
    '{"constructor":{"prototype":{"polluted":1}}}',
    '{"body":"a","body":"b"}',
    '{"participantIds":{"length":1,"0":"1"}}',
    'null',
    '[]',
    '"just a string"',
    '{',
    '',
    '{"body":"\\ud800"}',
  ),
  fc.integer({ min: 100, max: 30_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 100, max: 5000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
);

/** Bytes that are not UTF-8 inside otherwise plausible JSON. */
const invalidUtf8 = fc
  .array(fc.constantFrom(0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xed, 0xa0, 0x80, 0xc0, 0xaf), {
    minLength: 1,
    maxLength: 8,
  })
  .chain((bad) =>
    fc.constantFrom('body', 'username', 'displayName', 'title').map((field) => {
      const head = new TextEncoder().encode(`{"${field}":"`);
      const tail = new TextEncoder().encode('"}');
      return new Uint8Array([...head, ...bad, ...tail]);
    }),
  );

function bodyFor(op: Operation): fc.Arbitrary<string | Uint8Array> {
  const fields = op.bodyFields.length ? op.bodyFields : ['body'];
  const object = fc
    .dictionary(
      fc.oneof(fc.constantFrom(...fields), fc.constantFrom(...HOSTILE_KEYS), fc.string()),
      anything,
      {
        maxKeys: 5,
      },
    )
    .map((o) => JSON.stringify(o));
  return fc.oneof(
    object,
    object,
    fc.jsonValue().map((v) => JSON.stringify(v)),
    trickyJson,
    invalidUtf8,
  );
}

function pathFor(op: Operation, ids: string[]): fc.Arbitrary<string> {
  const segment = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ids) },
    oddString.map(encodeURIComponent),
    fc.constantFrom('%C3%28', '%FF%FE', '%', '%zz', '..%2F..', '-5', '1.5', '00001', '9'.repeat(400)),
  );
  const params = op.path.match(/\{\w+\}/g) ?? [];
  return fc.tuple(...params.map(() => segment)).map((values) => {
    let i = 0;
    return op.path.replace(/\{\w+\}/g, () => values[i++] ?? '');
  });
}

function queryFor(op: Operation): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom(...op.query, ...HOSTILE_KEYS, 'limit', 'cursor', 'timeout'),
    fc.string(),
  );
  const value = fc.oneof(
    oddString.map(encodeURIComponent),
    fc.integer().map(String),
    fc.constantFrom('%C3%28', '%', '1e999', '-0', 'Infinity', '200', '201', '61', 'p1', 'cDE'),
  );
  return fc
    .array(fc.tuple(key.map(encodeURIComponent), value), { maxLength: 6 })
    .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
}

function headersFor(tokens: string[]): fc.Arbitrary<Record<string, string>> {
  const latin1 = fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '\xe9'));
  const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  return fc
    .record({
      // Mostly a valid token, so the fuzzer gets past authentication into validation.
      Authorization: fc.oneof(
        { weight: 16, arbitrary: fc.constantFrom(...tokens.map((t) => `Bearer ${t}`)) },
        { weight: 1, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom(...tokens.map((t) => `Bearer ${t.slice(0, -2)}xx`)) },
        { weight: 1, arbitrary: latin1.map((s) => `Bearer ${s}`) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('Bearer', 'Basic dXNlcjpwYXNz', `Bearer ${'A'.repeat(8000)}`),
        },
      ),
      'Content-Type': optional(
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'application/json; charset=latin1',
          'application/json; charset=utf-16',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'image/png',
          'application/merge-patch+json',
        ),
      ),
      Cookie: optional(
        fc.oneof(
          latin1.map((s) => `parley_session=${s}`),
          fc.constant('parley_session='),
        ),
      ),
      'Last-Event-ID': optional(fc.oneof(latin1, fc.constantFrom('0', '-1', '1-2-3', '9'.repeat(30)))),
      Origin: optional(fc.constantFrom('https://evil.example', 'null', 'http://127.0.0.1')),
      Accept: optional(fc.constantFrom('text/event-stream', '*/*', 'application/xml', '')),
      'X-Request-Id': optional(latin1),
      'X-Forwarded-For': optional(fc.constantFrom('1.2.3.4', 'not an ip', '::1, 10.0.0.1', '')),
    })
    .map(
      (h) =>
        Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>,
    );
}

function requestFor(ops: Operation[], ids: string[], tokens: string[]): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...ops).chain((op) =>
    fc.record({
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constant(op.method) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
      ),
      path: pathFor(op, ids),
      query: queryFor(op),
      headers: headersFor(tokens),
      body: fc.option(bodyFor(op), { nil: undefined, freq: op.hasBody ? 8 : 2 }),
    }),
  );
}

function operationsOf(doc: any): Operation[] {
  return Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      const props = schema?.$ref
        ? doc.components.schemas[schema.$ref.split('/').pop()]?.properties
        : schema?.properties;
      return {
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        query: (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name as string),
        bodyFields: Object.keys(props ?? {}),
        hasBody: Boolean(op.requestBody),
      };
    }),
  );
}

/**
 * Columns a node's timers rewrite on their own, whatever the request: the liveness tracker keeps
 * a connected device's `live_until` (and `last_seen_at`) ahead while an earlier poll's window lasts.
 */
const BOOKKEEPING: Record<string, string[]> = { devices: ['live_until', 'last_seen_at'] };

/** Every row of every table, as JSON: what "stored data" means for the before/after comparison. */
async function snapshot(server: TestServer): Promise<string> {
  const db = server.parley.deps.db;
  const tables: string[] = onPostgres
    ? (
        await db('information_schema.tables')
          .select('table_name as name')
          .whereRaw('table_schema = current_schema()')
          .andWhere('table_type', 'BASE TABLE')
      ).map((r: { name: string }) => r.name)
    : (await db('sqlite_master').select('name').where('type', 'table')).map((r: { name: string }) => r.name);
  const parts: string[] = [];
  for (const table of tables.sort()) {
    if (table.startsWith('knex_')) continue;
    const rows: Record<string, unknown>[] = await db(table).select('*');
    for (const row of rows) for (const column of BOOKKEEPING[table] ?? []) delete row[column];
    parts.push(...rows.map((r) => `${table}: ${JSON.stringify(r)}`).sort());
  }
  return parts.join('\n');
}

/**
 * The snapshot once the push dispatcher has read what the last request committed: it consumes the
 * log a moment after each commit, and its position moving is not the next request's doing.
 */
async function settledSnapshot(server: TestServer): Promise<string> {
  await pushCaughtUp(server);
  return snapshot(server);
}

/** The lines that differ, for a readable failure. */
function diff(before: string, after: string): string {
  const a = new Set(before.split('\n'));
  const b = new Set(after.split('\n'));
  const gone = [...a].filter((l) => !b.has(l)).map((l) => `- ${l.slice(0, 300)}`);
  const added = [...b].filter((l) => !a.has(l)).map((l) => `+ ${l.slice(0, 300)}`);
  return [...gone, ...added].join('\n');
}

async function send(url: string, req: FuzzRequest): Promise<{ status: number; text: string } | 'timeout'> {
  const canHaveBody = !['GET', 'HEAD'].includes(req.method);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(url + req.path + req.query, {
      method: req.method,
      headers: req.headers,
      body: canHaveBody ? (req.body as BodyInit | undefined) : undefined,
      signal: abort.signal,
    });
    const streaming = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
    const text = streaming ? '' : await res.text();
    abort.abort();
    return { status: res.status, text };
  } catch (err) {
    if (abort.signal.aborted) return 'timeout';
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzzing every operation with hostile input', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let ops: Operation[];
  let ids: string[];

  before(async () => {
    // High limits: the fuzzer should explore validation, not spend its budget on 429s.
    server = await startServer({ LOGIN_FAILURES_PER_WINDOW: '100000' });
    [alice, bob] = await Promise.all([signUp(server.url, 'fuzza'), signUp(server.url, 'fuzzb')]);
    const conv = await alice.api.post('/conversations', { participantIds: [bob.id], title: 'fuzz' });
    const msg = await alice.api.post(`/conversations/${conv.body.id}/message`, { body: 'hello' });
    // Not Bob's own id: a fuzzed DELETE /users/{bob} would end the run's identity.
    ids = [alice.id, conv.body.id, msg.body.id];
    ops = operationsOf((await new Api(server.url).get('/openapi.json')).body);
  });
  after(() => server.close());

  it('never answers 5xx, never hangs, and never changes stored data on a 4xx', async function () {
    this.timeout(BUDGET_MS + 60_000);
    let tried = 0;
    const byStatus = new Map<number, number>();
    let before = await settledSnapshot(server);
    // Bob is the fuzzer's logged-in identity; Alice owns the data its ids point at.
    let tokens = [bob.token];
    // fast-check's time limit abandons the run under way: it must end (and pass) before the server closes.
    let inFlight: Promise<void> = Promise.resolve();
    async function check(req: FuzzRequest): Promise<void> {
      tried++;
      const res = await send(server.url, req);
      if (res === 'timeout') {
        // Only a long-poll may still be waiting.
        expect(req.path, `${req.method} ${req.path}${req.query} did not answer`).to.equal('/events/poll');
        before = await settledSnapshot(server);
        return;
      }
      byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      const what = `${req.method} ${req.path}${req.query} → ${res.status} ${res.text.slice(0, 300)}`;
      expect(res.status, what).to.be.below(500);
      if (res.status >= 400) {
        expect(res.text, `${what}: leaks internals`).to.not.match(/at .+\.ts:\d+|SQLITE|select |\/work\//i);
        const after = await snapshot(server);
        if (after !== before) expect.fail(`${what}: stored data changed:\n${diff(before, after)}`);
      } else {
        // A fuzzed logout, rename or account deletion may have spent Bob's session or identity:
        // log in again, or stand a new user in for Bob.
        if (
          req.method !== 'GET' &&
          (await new Api(server.url, tokens[0]).get('/conversations')).status === 401
        ) {
          const again = await new Api(server.url).post('/login', {
            username: bob.username,
            password: bob.password,
          });
          tokens = [again.status === 200 ? again.body.token : (await signUp(server.url, 'standin')).token];
        }
        before = await settledSnapshot(server);
      }
    }
    const property = fc.asyncProperty(
      fc.constant(null).chain(() => requestFor(ops, ids, tokens)),
      (req) => (inFlight = check(req)),
    );
    await fc.assert(property, {
      numRuns: 1_000_000,
      interruptAfterTimeLimit: BUDGET_MS,
      markInterruptAsFailure: false,
    });
    await inFlight;
    console.log(
      `      fuzz: ${tried} requests in ${BUDGET_MS / 1000} s over ${ops.length} operations; statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}`,
    );
    expect(tried).to.be.above(50);
    const health = await new Api(server.url).get('/health');
    expect(health.status).to.equal(200);
  });
});
