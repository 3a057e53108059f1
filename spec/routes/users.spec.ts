import { expect } from 'chai';
import { insertUser } from '../../lib/store/users.ts';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { errorPaths, expectProblem } from '../helpers/problem.ts';

describe('GET /users/{userId}', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const { alice, bob } = t.users;

  it('returns another user without any secret', async () => {
    const res = await alice.api.get(`/users/${bob.id}`);
    expect(res.status).to.equal(200);
    expect(res.body).to.include.all.keys(
      'id',
      'username',
      'displayName',
      'avatarUrl',
      'createdAt',
      'updatedAt',
    );
    expect(res.text).not.to.match(/password|hash/i);
    expect(res.body).to.include({ id: bob.id, username: bob.username });
  });

  for (const id of ['999999', 'abc', '0', '-1', '1e3']) {
    it(`answers 404 for the id "${id}"`, async () => {
      expectProblem(await alice.api.get(`/users/${id}`), 404, 'not-found');
    });
  }

  it('answers 401 without a session', async () => {
    expectProblem(await new Api(t.url).get(`/users/${bob.id}`), 401, 'unauthenticated');
  });
});

describe('GET /users', () => {
  const t = useServer({ users: ['searcher'] });
  const { searcher: me } = t.users;
  const names: string[] = [];
  before(async () => {
    // Registering 60 users over HTTP would cost 60 password hashes; these only need to exist.
    const at = new Date().toISOString();
    for (let i = 0; i < 60; i++) {
      const username = `bulk${String(i).padStart(2, '0')}`;
      names.push(username);
      await insertUser(t.server.parley.deps.db, {
        username,
        displayName: i % 2 ? `Odd ${i}` : `Even ${i}`,
        avatarUrl: null,
        passwordHash: 'not-a-hash',
        at,
      });
    }
    for (const [username, displayName] of [
      ['Zed_one', 'Zed'],
      ['zedtwo', 'Second'],
      ['other', 'ZEDDY'],
      ['pct', '100%_sure'],
      ['pcx', '100x_sure'],
      ['under_score', 'U'],
      ['underXscore', 'U'],
    ] as const) {
      await insertUser(t.server.parley.deps.db, {
        username,
        displayName,
        avatarUrl: null,
        passwordHash: 'x',
        at,
      });
    }
  });

  const usernames = (res: { body: { users: { username: string }[] } }) =>
    res.body.users.map((u) => u.username);

  it('returns 50 users by default with a nextCursor', async () => {
    const res = await me.api.get('/users');
    expect(res.status).to.equal(200);
    expect(res.body.users).to.have.length(50);
    expect(res.body.nextCursor).to.be.a('string');
  });

  it('pages through everyone with limit and cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { users: { username: string }[]; nextCursor: string | null } } =
        await me.api.get(`/users?limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).to.equal(200);
      expect(res.body.users.length).to.be.at.most(25);
      seen.push(...usernames(res));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).to.equal(3);
    expect(seen).to.have.length(68);
    expect(new Set(seen).size).to.equal(68);
    expect(seen).to.include.members([me.username, ...names]);
  });

  it('returns nextCursor null on the last page', async () => {
    const res = await me.api.get('/users?limit=200');
    expect(res.body.users).to.have.length(68);
    expect(res.body.nextCursor).to.equal(null);
  });

  it('pages a search across pages without gaps or repeats', async () => {
    const first = await me.api.get('/users?q=bulk1&limit=4');
    expect(usernames(first)).to.deep.equal(['bulk10', 'bulk11', 'bulk12', 'bulk13']);
    const second = await me.api.get(`/users?q=bulk1&limit=4&cursor=${first.body.nextCursor}`);
    expect(usernames(second)).to.deep.equal(['bulk14', 'bulk15', 'bulk16', 'bulk17']);
    const third = await me.api.get(`/users?q=bulk1&limit=4&cursor=${second.body.nextCursor}`);
    expect(usernames(third)).to.deep.equal(['bulk18', 'bulk19']);
    expect(third.body.nextCursor).to.equal(null);
  });

  it('matches a username or display name prefix, ignoring case', async () => {
    const res = await me.api.get('/users?q=zEd');
    expect(usernames(res)).to.have.members(['Zed_one', 'zedtwo', 'other']);
  });

  it('matches display names by prefix only, not in the middle', async () => {
    expect(usernames(await me.api.get('/users?q=dd'))).to.deep.equal([]);
    expect(usernames(await me.api.get('/users?q=odd%2057'))).to.deep.equal(['bulk57']);
  });

  it('takes % and _ literally', async () => {
    expect(usernames(await me.api.get('/users?q=100%25'))).to.deep.equal(['pct']);
    expect(usernames(await me.api.get('/users?q=under_'))).to.deep.equal(['under_score']);
    expect(usernames(await me.api.get('/users?q=%25'))).to.deep.equal([]);
  });

  it('treats an empty q as no filter', async () => {
    expect((await me.api.get('/users?q=&limit=200')).body.users).to.have.length(68);
  });

  for (const query of ['limit=0', 'limit=201', 'limit=abc', 'limit=1.5', 'q=a&q=b', 'sort=name']) {
    it(`rejects ?${query} with 400`, async () => {
      expectProblem(await me.api.get(`/users?${query}`), 400, 'validation-failed');
    });
  }

  it('accepts limit=200', async () => {
    expect((await me.api.get('/users?limit=200')).status).to.equal(200);
  });

  for (const cursor of ['garbage', 'cA', Buffer.from('p-1').toString('base64url'), '%00']) {
    it(`rejects the malformed cursor "${cursor}" with 400`, async () => {
      expectProblem(await me.api.get(`/users?cursor=${cursor}`), 400);
    });
  }

  it('answers 401 without a session', async () => {
    expectProblem(await new Api(t.url).get('/users'), 401);
  });
});

describe('PUT /users/{userId}', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const { alice, bob } = t.users;

  it('updates the display name and avatar URL and moves updatedAt', async () => {
    const before = await alice.api.get(`/users/${alice.id}`);
    const res = await alice.api.put(`/users/${alice.id}`, {
      displayName: ' Alice A. ',
      avatarUrl: 'http://img.example/alice.jpg',
    });
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ displayName: 'Alice A.', avatarUrl: 'http://img.example/alice.jpg' });
    expect(res.body.updatedAt >= before.body.updatedAt).to.equal(true);
    expect((await bob.api.get(`/users/${alice.id}`)).body.displayName).to.equal('Alice A.');
  });

  it('clears the avatar URL with null', async () => {
    const res = await alice.api.put(`/users/${alice.id}`, { avatarUrl: null });
    expect(res.status).to.equal(200);
    expect(res.body.avatarUrl).to.equal(null);
  });

  it('accepts an empty update', async () => {
    expect((await alice.api.put(`/users/${alice.id}`, {})).status).to.equal(200);
  });

  it('renames, and the old name is free for someone else', async () => {
    const old = alice.username;
    const renamed = await alice.api.put(`/users/${alice.id}`, { username: `${old}_new` });
    expect(renamed.status).to.equal(200);
    expect(renamed.body.username).to.equal(`${old}_new`);
    alice.username = `${old}_new`;
    expect(
      (await new Api(t.url).post('/register', { username: old, password: 'long enough' })).status,
    ).to.equal(201);
  });

  it('accepts a rename of yourself to another case of your own name', async () => {
    const res = await alice.api.put(`/users/${alice.id}`, { username: alice.username.toUpperCase() });
    expect(res.status).to.equal(200);
    alice.username = res.body.username;
  });

  it('rejects a rename to a name taken in another case with 409', async () => {
    const res = await alice.api.put(`/users/${alice.id}`, { username: bob.username.toUpperCase() });
    expectProblem(res, 409, 'username-taken');
  });

  it("answers 403 to an update of someone else's account", async () => {
    expectProblem(await alice.api.put(`/users/${bob.id}`, { displayName: 'Hacked' }), 403, 'forbidden');
    expect((await bob.api.get(`/users/${bob.id}`)).body.displayName).to.equal(bob.username);
  });

  it('answers 404 for a user that does not exist', async () => {
    expectProblem(await alice.api.put('/users/999999', { displayName: 'Ghost' }), 404);
  });

  it('answers 401 without a session', async () => {
    expectProblem(await new Api(t.url).put(`/users/${alice.id}`, { displayName: 'X' }), 401);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['a username shorter than 3', { username: 'ab' }, 'username'],
    ['a username with a slash', { username: 'a/b/c' }, 'username'],
    ['a blank displayName', { displayName: '' }, 'displayName'],
    ['a displayName of the wrong type', { displayName: 42 }, 'displayName'],
    ['a data: avatarUrl', { avatarUrl: 'data:image/png;base64,AAAA' }, 'avatarUrl'],
    [
      'a password shorter than 8',
      { password: 'short', currentPassword: 'correct horse battery' },
      'password',
    ],
    ['an unknown field', { email: 'a@example.com' }, 'email'],
    ['a read-only field', { id: '1' }, 'id'],
  ];
  for (const [what, body, field] of invalid) {
    it(`rejects ${what} with 400 naming ${field}`, async () => {
      const res = await alice.api.put(`/users/${alice.id}`, body);
      expectProblem(res, 400, 'validation-failed');
      expect(errorPaths(res)).to.include(field);
    });
  }

  it('rejects a JSON body over 64 KiB with 413', async () => {
    const res = await alice.api.put(`/users/${alice.id}`, { displayName: 'x'.repeat(70 * 1024) });
    expectProblem(res, 413, 'payload-too-large');
  });

  it('rejects a body that is not JSON with 415', async () => {
    const res = await alice.api.put(`/users/${alice.id}`, 'displayName=x', {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    expectProblem(res, 415, 'unsupported-media-type');
  });

  it('rejects invalid JSON with 400', async () => {
    const res = await alice.api.put(`/users/${alice.id}`, '{"displayName": ', {
      'Content-Type': 'application/json',
    });
    expectProblem(res, 400);
  });
});

describe('PUT /users/{userId} changing the password', () => {
  const t = useServer({ users: ['pw'] });
  const { pw: user } = t.users;
  const api = t.api;

  it('needs currentPassword, naming it in a 400', async () => {
    const res = await user.api.put(`/users/${user.id}`, { password: 'a new password' });
    expectProblem(res, 400, 'validation-failed');
    expect(errorPaths(res)).to.include('currentPassword');
  });

  it('answers 403 to a wrong currentPassword and keeps the old password', async () => {
    const res = await user.api.put(`/users/${user.id}`, {
      password: 'a new password',
      currentPassword: 'not the password',
    });
    expectProblem(res, 403, 'wrong-password');
    expect((await user.api.get(`/users/${user.id}`)).status).to.equal(200);
  });

  it('changes it, revokes the other sessions and keeps the current one', async () => {
    const other = (await api.post('/login', { username: user.username, password: user.password })).body.token;
    const res = await user.api.put(`/users/${user.id}`, {
      password: 'a new password',
      currentPassword: user.password,
    });
    expect(res.status).to.equal(200);
    expect(res.text).not.to.match(/password/i);
    expect((await user.api.get(`/users/${user.id}`)).status).to.equal(200);
    expectProblem(await api.as(other).get(`/users/${user.id}`), 401, 'unauthenticated');
    expectProblem(await api.post('/login', { username: user.username, password: user.password }), 401);
    expect(
      (await api.post('/login', { username: user.username, password: 'a new password' })).status,
    ).to.equal(200);
  });
});

describe('DELETE /users/{userId}', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const { alice, bob } = t.users;
  const api = t.api;

  it("answers 403 to deleting someone else's account", async () => {
    expectProblem(await alice.api.delete(`/users/${bob.id}`), 403, 'forbidden');
    expect((await bob.api.get(`/users/${bob.id}`)).status).to.equal(200);
  });

  it('answers 404 for a user that does not exist', async () => {
    expectProblem(await alice.api.delete('/users/999999'), 404);
  });

  it('answers 401 without a session', async () => {
    expectProblem(await api.delete(`/users/${alice.id}`), 401);
  });

  it("deletes yourself: sessions revoked, username free, sent messages stay in others' history", async () => {
    const conv = await bob.api.post('/conversations', { participantIds: [alice.id] });
    expect(conv.status).to.equal(201);
    const sent = await alice.api.post(`/conversations/${conv.body.id}/message`, { body: 'bye, Bob' });
    expect(sent.status).to.equal(201);
    const second = (await api.post('/login', { username: alice.username, password: alice.password })).body
      .token;

    const res = await alice.api.delete(`/users/${alice.id}`);
    expect(res.status).to.equal(204);
    expect(res.text).to.equal('');

    expectProblem(await alice.api.get(`/users/${bob.id}`), 401);
    expectProblem(await api.as(second).get(`/users/${bob.id}`), 401);
    expectProblem(await bob.api.get(`/users/${alice.id}`), 404);
    expectProblem(await api.post('/login', { username: alice.username, password: alice.password }), 401);
    const listed = await bob.api.get(`/users?q=${alice.username}`);
    expect(listed.body.users).to.deep.equal([]);

    const history = await bob.api.get(`/conversations/${conv.body.id}`);
    expect(history.status).to.equal(200);
    expect(history.body.messages).to.have.length(1);
    expect(history.body.messages[0]).to.include({ id: sent.body.id, senderId: alice.id, body: 'bye, Bob' });

    const again = await api.post('/register', { username: alice.username, password: 'another password' });
    expect(again.status).to.equal(201);
    expect(again.body.id).not.to.equal(alice.id);
  });
});
