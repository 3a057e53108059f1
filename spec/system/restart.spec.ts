import { expect } from 'chai';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { expectProblem } from '../helpers/problem.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

describe('a restart on the same database', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let conversationId: string;
  let loggedOut: string;
  let messageIds: string[];

  before(async () => {
    // No SESSION_SECRET: the server generates one into its data folder and must find it again.
    server = await startServer({ SESSION_SECRET: '' });
    alice = await signUp(server.url, 'alice');
    bob = await signUp(server.url, 'bob');
    await alice.api.put(`/users/${alice.id}`, { displayName: 'Alice Before' });
    const conv = await alice.api.post('/conversations', { participantIds: [bob.id] });
    conversationId = conv.body.id;
    messageIds = [];
    for (const body of ['one', 'two', 'three']) {
      const sent = await alice.api.post(`/conversations/${conversationId}/message`, { body });
      messageIds.push(sent.body.id);
    }
    loggedOut = (await new Api(server.url).post('/login', { username: bob.username, password: bob.password }))
      .body.token;
    expect((await new Api(server.url).as(loggedOut).post('/logout')).status).to.equal(204);

    await server.stop();
    server = await startServer(server.env, server.dir);
  });
  after(() => server.close());

  const as = (user: TestUser) => new Api(server.url, user.token);

  it('keeps the users and their profiles', async () => {
    const res = await as(bob).get(`/users/${alice.id}`);
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ username: alice.username, displayName: 'Alice Before' });
    const listed = await as(bob).get('/users');
    expect(listed.body.users.map((u: { id: string }) => u.id)).to.include.members([alice.id, bob.id]);
  });

  it('keeps the sessions: the same token still works', async () => {
    expect((await as(alice).get(`/users/${alice.id}`)).status).to.equal(200);
    expect((await as(bob).get(`/users/${bob.id}`)).status).to.equal(200);
  });

  it('keeps revoked sessions revoked', async () => {
    expectProblem(await new Api(server.url, loggedOut).get(`/users/${bob.id}`), 401, 'unauthenticated');
  });

  it('keeps the passwords', async () => {
    const res = await new Api(server.url).post('/login', {
      username: alice.username,
      password: alice.password,
    });
    expect(res.status).to.equal(200);
  });

  it('keeps the messages, in order', async () => {
    const res = await as(bob).get(`/conversations/${conversationId}`);
    expect(res.status).to.equal(200);
    expect(res.body.messages.map((m: { id: string; body: string }) => [m.id, m.body])).to.deep.equal([
      [messageIds[0], 'one'],
      [messageIds[1], 'two'],
      [messageIds[2], 'three'],
    ]);
  });

  it('keeps usernames taken', async () => {
    const res = await new Api(server.url).post('/register', {
      username: alice.username.toUpperCase(),
      password: 'long enough',
    });
    expectProblem(res, 409, 'username-taken');
  });
});
