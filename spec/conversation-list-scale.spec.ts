import { expect } from 'chai';
import { signUp, type TestUser } from './helpers/client.ts';
import { startServer, type TestServer } from './helpers/server.ts';

/**
 * `count` groups owned by `ownerId` with `memberIds`: the first member sent one message in each,
 * which the owner read in every other group.
 */
async function seedGroups(
  server: TestServer,
  ownerId: number,
  memberIds: number[],
  count: number,
): Promise<void> {
  const sender = memberIds[0]!;
  await server.parley.deps.db.transaction(async (trx) => {
    for (let i = 0; i < count; i++) {
      const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
      const [conv] = await trx('conversations')
        .insert({
          type: 'group',
          title: `g${i}`,
          created_by: ownerId,
          last_activity_at: at,
          created_at: at,
          updated_at: at,
        })
        .returning('id');
      const conversationId = Number((conv as { id: number }).id);
      const [message] = await trx('messages')
        .insert({ conversation_id: conversationId, sender_id: sender, body: `m${i}`, created_at: at })
        .returning('id');
      const messageId = Number((message as { id: number }).id);
      await trx('conversations').where({ id: conversationId }).update({ last_message_id: messageId });
      await trx('memberships').insert(
        [ownerId, ...memberIds].map((userId) => ({
          conversation_id: conversationId,
          user_id: userId,
          role: userId === ownerId ? 'owner' : 'member',
          joined_at: at,
          joined_event_id: 0,
          last_read_message_id: userId === sender || (userId === ownerId && i % 2) ? messageId : 0,
        })),
      );
    }
  });
}

describe('GET /conversations with 500 conversations', () => {
  let server: TestServer;
  let ned: TestUser;
  let ola: TestUser;
  let pia: TestUser;
  before(async () => {
    server = await startServer();
    [ned, ola, pia] = (await Promise.all(['ned', 'ola', 'pia'].map((p) => signUp(server.url, p)))) as [
      TestUser,
      TestUser,
      TestUser,
    ];
    // 500 groups with roles, a last message each and half of them read: everything the list shows.
    // Written straight to the database: 1,500 API calls would take a minute on a shared CI core,
    // and what is measured here is the read.
    await seedGroups(server, Number(ned.id), [Number(ola.id), Number(pia.id)], 500);
  });
  after(() => server.close());

  const countQueries = async (user: TestUser, path: string) => {
    let queries = 0;
    const onQuery = () => queries++;
    server.parley.deps.db.on('query', onQuery);
    try {
      const res = await user.api.get(path);
      expect(res.status).to.equal(200);
      return { queries, body: res.body };
    } finally {
      server.parley.deps.db.off('query', onQuery);
    }
  };

  it('runs the same number of queries for every page of 200 as for a list of one', async () => {
    const [quinn, ray] = (await Promise.all([signUp(server.url, 'quinn'), signUp(server.url, 'ray')])) as [
      TestUser,
      TestUser,
    ];
    const single = await quinn.api.post('/conversations', { participantIds: [ray.id], title: 'one' });
    await ray.api.post(`/conversations/${single.body.id}/message`, { body: 'hi' });
    const one = await countQueries(quinn, '/conversations?limit=200');
    expect(one.body.conversations).to.have.length(1);

    const pages: number[] = [];
    let unread = 0;
    let seen = 0;
    let cursor: string | null = null;
    do {
      const page: { queries: number; body: any } = await countQueries(
        ned,
        `/conversations?limit=200${cursor ? `&cursor=${cursor}` : ''}`,
      );
      pages.push(page.queries);
      for (const c of page.body.conversations) {
        expect(c.participants.map((p: { role: string }) => p.role)).to.deep.equal([
          'owner',
          'member',
          'member',
        ]);
        expect(c.lastMessage.senderId).to.equal(ola.id);
        unread += c.unreadCount;
        seen++;
      }
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).to.equal(500);
    expect(unread).to.equal(250);
    expect(pages).to.deep.equal([one.queries, one.queries, one.queries]);
  });
});
