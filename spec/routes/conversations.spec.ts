import { expect } from 'chai';
import { createGroup, send } from '../helpers/chat.ts';
import { Api, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { onPostgres } from '../helpers/postgres.ts';
import { countStatements, hubCaughtUp } from '../helpers/statements.ts';

interface Msg {
  id: string;
  body: string;
}
interface Conv {
  id: string;
  type: string;
  title: string | null;
  participants: { id: string }[];
  lastMessage: Msg | null;
  unreadCount: number;
}

const idsOf = (list: { id: string }[]): string[] => list.map((x) => x.id);
const bodiesOf = (list: Msg[]): string[] => list.map((m) => m.body);

describe('conversations', () => {
  // No push dispatcher: its background reads would land in the statement counts below.
  const t = useServer({ users: ['alice', 'bob', 'carol'], env: { PUSH_ENABLED: 'false' } });
  const { alice, bob, carol } = t.users;
  const group = (owner: TestUser, others: TestUser[], title?: string) =>
    createGroup<Conv>(owner, others, title);

  describe('POST /conversations', () => {
    it('creates a group conversation with a title, adds the caller and answers 201 with Location', async () => {
      const res = await alice.api.post('/conversations', {
        participantIds: [bob.id, carol.id],
        title: 'Weekend plans',
      });
      expect(res.status).to.equal(201);
      expect(res.headers.get('location')).to.equal(`/conversations/${res.body.id}`);
      expect(res.body).to.include({
        type: 'group',
        title: 'Weekend plans',
        createdBy: alice.id,
        lastMessage: null,
        unreadCount: 0,
      });
      expect(idsOf(res.body.participants)).to.have.members([alice.id, bob.id, carol.id]);
      const fetched = await carol.api.get(res.headers.get('location')!);
      expect(fetched.status).to.equal(200);
      expect(fetched.body.conversation.id).to.equal(res.body.id);
    });

    it('creates a direct conversation for one other participant and no title', async () => {
      const dave = await t.signUp('dave');
      const res = await dave.api.post('/conversations', { participantIds: [alice.id] });
      expect(res.status).to.equal(201);
      expect(res.headers.get('location')).to.equal(`/conversations/${res.body.id}`);
      expect(res.body).to.include({ type: 'direct', title: null, createdBy: dave.id });
      expect(idsOf(res.body.participants)).to.have.members([alice.id, dave.id]);
    });

    it('returns an existing direct conversation with 200, also when started from the other side', async () => {
      const first = await alice.api.post('/conversations', { participantIds: [carol.id] });
      expect(first.status).to.equal(201);
      const again = await alice.api.post('/conversations', { participantIds: [carol.id] });
      expect(again.status).to.equal(200);
      expect(again.headers.get('location')).to.equal(null);
      expect(again.body.id).to.equal(first.body.id);
      const otherSide = await carol.api.post('/conversations', { participantIds: [alice.id, carol.id] });
      expect(otherSide.status).to.equal(200);
      expect(otherSide.body.id).to.equal(first.body.id);
      expect(otherSide.body.type).to.equal('direct');
    });

    it('creates exactly one direct conversation when several creations race', async () => {
      const [erin, frank] = await Promise.all([t.signUp('erin'), t.signUp('frank')]);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2
            ? erin.api.post('/conversations', { participantIds: [frank.id] })
            : frank.api.post('/conversations', { participantIds: [erin.id] }),
        ),
      );
      expect(results.map((r) => r.status).sort()).to.deep.equal([200, 200, 200, 200, 200, 200, 200, 201]);
      expect(new Set(results.map((r) => r.body.id)).size).to.equal(1);
      const list = await erin.api.get('/conversations');
      expect(idsOf(list.body.conversations)).to.deep.equal([results[0]!.body.id]);
    });

    it('creates a group, not a direct conversation, for one other participant with a title', async () => {
      const a = await group(bob, [carol], 'project');
      const b = await group(bob, [carol], 'project');
      expect(a.type).to.equal('group');
      expect(b.id).to.not.equal(a.id);
    });

    it('treats repeated participant ids as one', async () => {
      const res = await alice.api.post('/conversations', {
        participantIds: [bob.id, bob.id, carol.id, alice.id],
        title: 'dupes',
      });
      expect(res.status).to.equal(201);
      expect(idsOf(res.body.participants)).to.have.members([alice.id, bob.id, carol.id]);
      expect(res.body.participants).to.have.length(3);
    });

    it('rejects unknown participant ids with 400 naming each of them', async () => {
      const res = await alice.api.post('/conversations', { participantIds: [bob.id, '999999', 'nope'] });
      expect(res.status).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(res.body.detail).to.include('999999').and.include('nope');
      expect(res.body.detail).to.not.match(new RegExp(`\\b${bob.id}\\b`));
      expect(res.body.errors).to.have.length(1);
      expect(res.body.errors[0].path).to.equal('participantIds');
      expect(res.body.errors[0].message).to.include('999999').and.include('nope');
    });

    it('names only the unknown ids when known ids are repeated', async () => {
      // Regression: unknown ids were matched by index against the de-duplicated list.
      const res = await alice.api.post('/conversations', { participantIds: [bob.id, bob.id, '999999'] });
      expect(res.status).to.equal(400);
      expect(res.body.errors[0].message).to.match(/\b999999\b/);
      expect(res.body.errors[0].message).to.not.match(new RegExp(`\\b${bob.id}\\b`));
    });

    it('rejects a conversation with only yourself', async () => {
      for (const participantIds of [[alice.id], [alice.id, alice.id]]) {
        const res = await alice.api.post('/conversations', { participantIds });
        expect(res.status).to.equal(400);
        expect(res.body.detail).to.match(/other than yourself/);
      }
    });

    for (const [name, body, path] of [
      ['an empty participant list', { participantIds: [] }, 'participantIds'],
      ['a missing participant list', { title: 'x' }, 'participantIds'],
      ['non-string participant ids', { participantIds: [2] }, 'participantIds.0'],
      ['a participant list that is not an array', { participantIds: '2' }, 'participantIds'],
      ['a title over 200 characters', { participantIds: ['2'], title: 'x'.repeat(201) }, 'title'],
      ['a blank title', { participantIds: ['2'], title: '   ' }, 'title'],
      ['a non-string title', { participantIds: ['2'], title: 5 }, 'title'],
      ['an unknown field', { participantIds: ['2'], topic: 'x' }, 'topic'],
    ] as const) {
      it(`rejects ${name} with 400`, async () => {
        const res = await alice.api.post('/conversations', body);
        expect(res.status).to.equal(400);
        expect(res.body.type).to.equal('urn:parley:problem:validation-failed');
        expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
      });
    }

    it('accepts a title of 200 characters', async () => {
      const res = await alice.api.post('/conversations', {
        participantIds: [bob.id],
        title: 'x'.repeat(200),
      });
      expect(res.status).to.equal(201);
      expect(res.body.title).to.have.length(200);
    });

    it('answers 401 without a token and with a bad token', async () => {
      const anonymous = new Api(t.url);
      expect((await anonymous.post('/conversations', { participantIds: [bob.id] })).status).to.equal(401);
      const forged = anonymous.as('not-a-token');
      expect((await forged.post('/conversations', { participantIds: [bob.id] })).status).to.equal(401);
    });

    it('answers 415 for a body that is not JSON', async () => {
      const res = await alice.api.post('/conversations', `participantIds=${bob.id}`, {
        'Content-Type': 'application/x-www-form-urlencoded',
      });
      expect(res.status).to.equal(415);
    });
  });

  describe('GET /conversations', () => {
    let gina: TestUser;
    let hank: TestUser;
    let ivan: TestUser;

    before(async () => {
      [gina, hank, ivan] = await Promise.all([t.signUp('gina'), t.signUp('hank'), t.signUp('ivan')]);
    });

    it("lists only the caller's conversations, most recent activity first", async () => {
      const first = await group(gina, [hank], 'first');
      const second = await group(gina, [ivan], 'second');
      const third = await group(hank, [ivan], 'not gina');
      const list = await gina.api.get('/conversations');
      expect(list.status).to.equal(200);
      expect(idsOf(list.body.conversations)).to.deep.equal([second.id, first.id]);
      expect(idsOf(list.body.conversations)).to.not.include(third.id);
      expect(list.body.nextCursor).to.equal(null);
      expect(list.body.eventCursor).to.be.a('string').and.not.equal('');

      await send(hank, first.id, 'bump');
      const after = await gina.api.get('/conversations');
      expect(idsOf(after.body.conversations)).to.deep.equal([first.id, second.id]);
      expect(after.body.conversations[0].lastMessage.body).to.equal('bump');
    });

    it("counts others' messages as unread, never your own, and a send marks your own read", async () => {
      const conv = await group(hank, [gina, ivan], 'unread');
      await send(hank, conv.id, 'one');
      await send(ivan, conv.id, 'two');
      const last = await send(hank, conv.id, 'three');
      const unread = async (user: TestUser) => {
        const list = await user.api.get('/conversations');
        const found = list.body.conversations.find((c: Conv) => c.id === conv.id);
        return { count: found.unreadCount, last: found.lastMessage };
      };
      expect(await unread(gina)).to.deep.equal({ count: 3, last });
      expect((await unread(hank)).count).to.equal(0);
      expect((await unread(ivan)).count).to.equal(1);
      await send(gina, conv.id, 'reply');
      expect((await unread(gina)).count).to.equal(0);
      expect((await unread(hank)).count).to.equal(1);
      const history = await gina.api.get(`/conversations/${conv.id}`);
      expect(history.body.conversation.unreadCount).to.equal(0);
    });

    it('pages with a cursor across pages without gaps or repeats', async () => {
      const [jo, kim] = await Promise.all([t.signUp('jo'), t.signUp('kim')]);
      // Created back to back, several share a timestamp: the cursor must break ties.
      const created = [];
      for (let i = 0; i < 7; i++) created.push(await group(jo, [kim], `page ${i}`));
      const all = await jo.api.get('/conversations?limit=200');
      expect(idsOf(all.body.conversations)).to.deep.equal(idsOf(created).reverse());

      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const page = await jo.api.get(`/conversations?limit=3${query}`);
        expect(page.status).to.equal(200);
        sizes.push(page.body.conversations.length);
        seen.push(...idsOf(page.body.conversations));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(sizes).to.deep.equal([3, 3, 1]);
      expect(seen).to.deep.equal(idsOf(all.body.conversations));
    });

    it('ends with a null nextCursor when the last page is exactly full', async () => {
      const [lee, max] = await Promise.all([t.signUp('lee'), t.signUp('max')]);
      for (let i = 0; i < 2; i++) await group(lee, [max], `full ${i}`);
      const page = await lee.api.get('/conversations?limit=2');
      expect(page.body.conversations).to.have.length(2);
      expect(page.body.nextCursor).to.equal(null);
    });

    for (const query of [
      'limit=0',
      'limit=201',
      'limit=abc',
      'limit=1.5',
      'cursor=bm9wZQ',
      'cursor=%25',
      'sort=asc',
    ]) {
      it(`rejects ?${query} with 400`, async () => {
        const res = await gina.api.get(`/conversations?${query}`);
        expect(res.status).to.equal(400);
        expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      });
    }

    it('accepts limit=1 and limit=200', async () => {
      expect((await gina.api.get('/conversations?limit=1')).body.conversations).to.have.length(1);
      expect((await gina.api.get('/conversations?limit=200')).status).to.equal(200);
    });

    it('runs the same number of queries for one conversation and for many', async () => {
      const [ned, ola] = await Promise.all([t.signUp('ned'), t.signUp('ola')]);
      const conv = await group(ned, [ola], 'count');
      await send(ola, conv.id, 'hello');
      const count = async (user: TestUser) => {
        await hubCaughtUp(t.server);
        const { statements, result } = await countStatements(t.server.parley.deps.db, () =>
          user.api.get('/conversations?limit=200'),
        );
        expect(result.status).to.equal(200);
        return { queries: statements, size: result.body.conversations.length };
      };
      const one = await count(ned);
      for (let i = 0; i < 6; i++) {
        const c = await group(ned, [ola], `count ${i}`);
        await send(ola, c.id, `hello ${i}`);
      }
      const many = await count(ned);
      expect([one.size, many.size]).to.deep.equal([1, 7]);
      // At least the log's bounds, the page (with unread counts and last messages) and its participants.
      expect(one.queries).to.be.at.least(3);
      expect(many.queries).to.equal(one.queries);
    });

    it('never shows a newcomer a lastMessage from before they joined', async () => {
      // Regression: lastMessage was the conversation's newest message, whoever asked.
      const conv = await group(gina, [hank], 'before you came');
      await send(hank, conv.id, 'said before ivan joined');
      const added = await gina.api.post(`/conversations/${conv.id}/participants`, { userIds: [ivan.id] });
      expect(added.status, added.text).to.equal(200);
      const listed = (await ivan.api.get('/conversations')).body.conversations.find(
        (c: Conv) => c.id === conv.id,
      );
      expect(listed).to.include({ lastMessage: null, unreadCount: 0 });
      const opened = await ivan.api.get(`/conversations/${conv.id}`);
      expect(opened.body.conversation.lastMessage).to.equal(null);
      expect(opened.body.messages).to.deep.equal([]);
      const welcome = await send(hank, conv.id, 'welcome ivan');
      const now = (await ivan.api.get('/conversations')).body.conversations.find(
        (c: Conv) => c.id === conv.id,
      );
      expect(now).to.deep.include({ lastMessage: welcome, unreadCount: 1 });
    });

    it('answers 401 without a token', async () => {
      expect((await new Api(t.url).get('/conversations')).status).to.equal(401);
    });
  });

  describe('GET /conversations/{id}', () => {
    let conv: Conv;
    let messages: Msg[];

    before(async () => {
      conv = await group(alice, [bob], 'history');
      messages = [];
      for (let i = 0; i < 10; i++) messages.push(await send(i % 2 ? bob : alice, conv.id, `m${i}`));
    });

    const history = (user: TestUser, query = '') => user.api.get(`/conversations/${conv.id}${query}`);

    it('returns the conversation and its messages oldest to newest', async () => {
      const res = await history(bob);
      expect(res.status).to.equal(200);
      expect(res.body.conversation).to.include({ id: conv.id, type: 'group', title: 'history' });
      expect(res.body.conversation.lastMessage).to.deep.equal(messages[9]);
      expect(res.body.messages).to.deep.equal(messages);
      expect(res.body.hasMore).to.equal(false);
      expect(res.body.eventCursor).to.be.a('string').and.not.equal('');
    });

    it('reads a page in statements built once (prepared), in no knex transaction', async () => {
      // issue 16: a knex transaction (a transaction-bound knex instance each time) and four
      // statements built per request cost a history page more than SQLite's own work.
      await history(bob); // a token's first request checks its session: not the page's work
      await hubCaughtUp(t.server);
      const { db } = t.server.parley.deps;
      const seen: { sql: string; method: string }[] = [];
      const onQuery = (q: { sql: string; method: string }) => seen.push(q);
      db.on('query', onQuery);
      let res: Awaited<ReturnType<typeof history>>;
      try {
        res = await history(bob, `?limit=4&before=${messages[5]!.id}`);
      } finally {
        db.off('query', onQuery);
      }
      expect(bodiesOf(res.body.messages)).to.deep.equal(['m1', 'm2', 'm3', 'm4']);
      // The devices' liveness tracker writes on its own timer, whatever the request.
      const built = seen.filter((q) => q.method !== 'prepared' && !/\bdevices\b/.test(q.sql));
      expect(built).to.deep.equal([]);
      const transactions = seen.filter((q) => /^begin/i.test(q.sql)).map((q) => q.sql);
      // SQLite reads on its one connection, held: no write runs in between. PostgreSQL reads in
      // a REPEATABLE READ snapshot, which waits out events held back below the horizon.
      expect(transactions).to.deep.equal(
        onPostgres ? ['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'] : [],
      );
    });

    it('returns the newest 50 by default and up to 200 with limit', async function () {
      this.timeout(60_000); // 201 real sends: slow on a busy PostgreSQL
      const busy = await group(carol, [bob], 'busy');
      const sent: Msg[] = [];
      // In parallel batches to stay fast on PostgreSQL; history order is commit order, which ids follow.
      for (let i = 0; i < 201; i += 25) {
        const batch = Array.from({ length: Math.min(25, 201 - i) }, (_, j) =>
          send(carol, busy.id, `b${i + j}`),
        );
        sent.push(...(await Promise.all(batch)));
      }
      sent.sort((a, b) => Number(a.id) - Number(b.id));
      const byDefault = await carol.api.get(`/conversations/${busy.id}`);
      expect(byDefault.body.messages).to.deep.equal(sent.slice(-50));
      expect(byDefault.body.hasMore).to.equal(true);
      const max = await carol.api.get(`/conversations/${busy.id}?limit=200`);
      expect(max.body.messages).to.deep.equal(sent.slice(-200));
      expect(max.body.hasMore).to.equal(true);
      expect((await carol.api.get(`/conversations/${busy.id}?limit=201`)).status).to.equal(400);
      expect((await carol.api.get(`/conversations/${busy.id}?limit=0`)).status).to.equal(400);
    });

    it('pages backwards with before across 3 pages without gaps or repeats', async () => {
      const pages: { bodies: string[]; hasMore: boolean }[] = [];
      let query = '?limit=4';
      for (;;) {
        const res = await history(alice, query);
        expect(res.status).to.equal(200);
        pages.push({ bodies: bodiesOf(res.body.messages), hasMore: res.body.hasMore });
        if (!res.body.hasMore) break;
        query = `?limit=4&before=${res.body.messages[0].id}`;
      }
      expect(pages).to.deep.equal([
        { bodies: ['m6', 'm7', 'm8', 'm9'], hasMore: true },
        { bodies: ['m2', 'm3', 'm4', 'm5'], hasMore: true },
        { bodies: ['m0', 'm1'], hasMore: false },
      ]);
    });

    it('pages forwards with after across 3 pages without gaps or repeats', async () => {
      const pages: { bodies: string[]; hasMore: boolean }[] = [];
      let after = messages[0]!.id;
      for (;;) {
        const res = await history(bob, `?limit=3&after=${after}`);
        expect(res.status).to.equal(200);
        pages.push({ bodies: bodiesOf(res.body.messages), hasMore: res.body.hasMore });
        if (!res.body.hasMore) break;
        after = res.body.messages.at(-1).id;
      }
      expect(pages).to.deep.equal([
        { bodies: ['m1', 'm2', 'm3'], hasMore: true },
        { bodies: ['m4', 'm5', 'm6'], hasMore: true },
        { bodies: ['m7', 'm8', 'm9'], hasMore: false },
      ]);
    });

    it('returns the newest messages strictly between before and after when given both', async () => {
      const res = await history(alice, `?limit=3&after=${messages[1]!.id}&before=${messages[8]!.id}`);
      expect(bodiesOf(res.body.messages)).to.deep.equal(['m5', 'm6', 'm7']);
      expect(res.body.hasMore).to.equal(true);
      const all = await history(alice, `?limit=10&after=${messages[1]!.id}&before=${messages[8]!.id}`);
      expect(bodiesOf(all.body.messages)).to.deep.equal(['m2', 'm3', 'm4', 'm5', 'm6', 'm7']);
      expect(all.body.hasMore).to.equal(false);
    });

    it('returns an empty page after the newest and before the oldest message', async () => {
      const newest = await history(alice, `?after=${messages[9]!.id}`);
      expect(newest.body).to.include({ hasMore: false }).and.to.have.property('messages').that.is.empty;
      const oldest = await history(alice, `?before=${messages[0]!.id}`);
      expect(oldest.body).to.include({ hasMore: false }).and.to.have.property('messages').that.is.empty;
    });

    for (const query of ['before=abc', 'before=0', 'after=-1', 'after=1e3', 'limit=x', 'page=2']) {
      it(`rejects ?${query} with 400`, async () => {
        const res = await history(alice, `?${query}`);
        expect(res.status).to.equal(400);
        expect(res.body.type).to.equal('urn:parley:problem:validation-failed');
      });
    }

    it('answers the same 404 for a conversation you are not in, a nonexistent id and a malformed id', async () => {
      const notMine = await carol.api.get(`/conversations/${conv.id}`);
      const missing = await carol.api.get('/conversations/987654');
      const malformed = await carol.api.get('/conversations/not-an-id');
      const long = await carol.api.get(`/conversations/${'9'.repeat(40)}`);
      for (const res of [notMine, missing, malformed, long]) {
        expect(res.status, res.text).to.equal(404);
        expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      }
      expect(missing.body).to.deep.equal(notMine.body);
      expect(malformed.body).to.deep.equal(notMine.body);
      expect(long.body).to.deep.equal(notMine.body);
    });

    it('answers 401 without a token', async () => {
      expect((await new Api(t.url).get(`/conversations/${conv.id}`)).status).to.equal(401);
    });
  });
});
