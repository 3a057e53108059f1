import { expect } from 'chai';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

describe('errors as problem details', () => {
  const t = useServer({ users: ['errors', 'other'] });
  const { errors: user } = t.users;
  const api = t.api;

  it('answers an unknown path with a 404 problem', async () => {
    const res = await api.get('/no/such/path');
    expectProblem(res, 404, 'not-found');
    expect(res.headers.get('x-request-id')).to.be.a('string').and.not.empty;
  });

  it('answers an unknown path with a 404 problem whatever the method, even with a session', async () => {
    expectProblem(await user.api.post('/nowhere', { a: 1 }), 404, 'not-found');
  });

  it("names in a 404's detail only ids the client sent, not what a malformed one became", async () => {
    // Anything that is not one of our ids gets the same 404 as a missing one (nothing leaks) —
    // and the detail must not speak of an id 0 nobody asked for.
    const group = await user.api.post('/conversations', { participantIds: [t.users.other.id], title: 'ids' });
    const conversationId = group.body.id as string;
    const cases: [string, string][] = [
      ['/users/abc', 'There is no such user.'],
      ['/users/007', 'There is no such user.'],
      ['/users/999999999', 'There is no user with id 999999999.'],
      ['/users/abc/avatar', 'That user has no uploaded avatar.'],
      [
        `/conversations/${conversationId}/messages/abc`,
        `There is no such message in conversation ${conversationId}.`,
      ],
      [
        `/conversations/${conversationId}/messages/999999999`,
        `There is no message 999999999 in conversation ${conversationId}.`,
      ],
    ];
    for (const [path, detail] of cases) {
      const res = await user.api.get(path);
      expectProblem(res, 404, 'not-found');
      expect(res.body.detail, path).to.equal(detail);
    }
    const removed = await user.api.delete(`/conversations/${conversationId}/participants/abc`);
    expectProblem(removed, 404, 'not-found');
    expect(removed.body.detail).to.equal(`That user is not a participant of conversation ${conversationId}.`);
  });

  it('answers a wrong method with a 405 problem keeping the Allow header', async () => {
    const res = await user.api.request('PATCH', `/users/${user.id}`, { displayName: 'x' });
    expectProblem(res, 405, 'method-not-allowed');
    const allow = (res.headers.get('allow') ?? '').split(/,\s*/);
    expect(allow).to.include.members(['GET', 'PUT', 'DELETE']);
  });

  it('answers GET on a POST-only path with 405', async () => {
    const res = await api.get('/register');
    expectProblem(res, 405, 'method-not-allowed');
    expect(res.headers.get('allow')).to.include('POST');
  });

  it('answers a method the server does not implement with a 501 problem', async () => {
    expectProblem(await user.api.request('PROPFIND', '/users'), 501, 'not-implemented');
  });

  it('answers OPTIONS with the Allow header', async () => {
    const res = await api.request('OPTIONS', '/register');
    expect(res.status).to.be.oneOf([200, 204]);
    expect(res.headers.get('allow')).to.include('POST');
  });

  it('answers invalid JSON with a 400 problem', async () => {
    const res = await api.post('/register', '{"username": "x",', { 'Content-Type': 'application/json' });
    expectProblem(res, 400);
    expect(res.body.detail).to.match(/JSON/);
  });

  it('answers a JSON body that is not an object with 400', async () => {
    expectProblem(await api.post('/login', '"just a string"', { 'Content-Type': 'application/json' }), 400);
  });

  it('answers a JSON body over 64 KiB with 413, before validating it', async () => {
    const res = await api.post('/register', { username: 'big', password: 'p'.repeat(65 * 1024) });
    expectProblem(res, 413, 'payload-too-large');
  });

  it('accepts a JSON body just under 64 KiB as far as validation', async () => {
    const res = await api.post('/register', { username: 'big', password: 'p'.repeat(63 * 1024) });
    expectProblem(res, 400, 'validation-failed');
  });

  for (const [type, body] of [
    ['text/plain', '{"username":"plain","password":"long enough"}'],
    ['application/x-www-form-urlencoded', 'username=form&password=long+enough'],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n',
    ],
  ] as const) {
    it(`answers a ${type.split(';')[0]} body with a 415 problem`, async () => {
      expectProblem(
        await api.post('/register', body, { 'Content-Type': type }),
        415,
        'unsupported-media-type',
      );
    });
  }

  it('accepts application/json with a charset', async () => {
    const res = await api.post(
      '/login',
      JSON.stringify({ username: user.username, password: user.password }),
      {
        'Content-Type': 'application/json; charset=utf-8',
      },
    );
    expect(res.status).to.equal(200);
  });

  it('keeps one title per problem type', async () => {
    const a = await user.api.get('/users/999999');
    const b = await api.get('/elsewhere');
    expect(a.body.type).to.equal(b.body.type);
    expect(a.body.title).to.equal(b.body.title);
  });

  it('lists every invalid field of a body at once', async () => {
    const res = await api.post('/register', { username: 'x', password: 'y', extra: true });
    expectProblem(res, 400, 'validation-failed');
    expect(res.body.errors.map((e: { path: string }) => e.path)).to.include.members([
      'username',
      'password',
      'extra',
    ]);
    for (const e of res.body.errors) expect(e.message).to.be.a('string').and.not.empty;
  });
});

describe('a failure inside the server', () => {
  const t = useServer({ users: ['broken'] });
  const { broken: user } = t.users;

  it('answers 500 with nothing but "Internal Server Error", and keeps serving', async () => {
    // A real fault below the route: the table the avatar query reads is gone.
    await t.server.parley.deps.db.schema.dropTable('avatars');
    const res = await user.api.get(`/users/${user.id}/avatar`);
    expectProblem(res, 500, 'internal');
    expect(res.body).to.deep.equal({
      type: 'urn:parley:problem:internal',
      title: 'Internal Server Error',
      status: 500,
      detail: 'Internal Server Error',
    });
    expect(res.text).not.to.match(/avatars|sqlite|select|no such table|\/work\/|\.ts|at /i);
    expect((await user.api.get(`/users/${user.id}`)).status).to.equal(200);
  });

  it('answers /health with 503 when the database does not answer', async () => {
    await t.server.parley.deps.db.destroy();
    const res = await new Api(t.url).get('/health');
    expectProblem(res, 503, 'unavailable');
  });
});
