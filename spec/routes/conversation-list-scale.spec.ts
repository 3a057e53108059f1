import { expect } from 'chai';
import { group, send } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import type { TestServer } from '../helpers/server.ts';
import { countStatements, hubCaughtUp } from '../helpers/statements.ts';

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
  const CHUNK = 100; // rows per INSERT: under SQLite's bound-parameter limit
  await server.parley.deps.db.transaction(async (trx) => {
    for (let start = 0; start < count; start += CHUNK) {
      const indexes = Array.from({ length: Math.min(CHUNK, count - start) }, (_, k) => start + k);
      const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
      const conversations: { id: number }[] = await trx('conversations')
        .insert(
          indexes.map((i) => ({
            type: 'group',
            title: `g${i}`,
            created_by: ownerId,
            last_activity_at: at(i),
            created_at: at(i),
            updated_at: at(i),
          })),
        )
        .returning('id');
      const ids = conversations.map((c) => Number(c.id));
      const messages: { id: number; conversation_id: number }[] = await trx('messages')
        .insert(
          ids.map((id, k) => ({ conversation_id: id, sender_id: sender, body: `m${k}`, created_at: at(k) })),
        )
        .returning(['id', 'conversation_id']);
      const messageOf = new Map(messages.map((m) => [Number(m.conversation_id), Number(m.id)]));
      await trx('memberships').insert(
        ids.flatMap((conversationId, k) =>
          [ownerId, ...memberIds].map((userId) => {
            const read = userId === sender || (userId === ownerId && (start + k) % 2 === 1);
            return {
              conversation_id: conversationId,
              user_id: userId,
              role: userId === ownerId ? 'owner' : 'member',
              joined_at: at(k),
              joined_event_id: 0,
              last_read_message_id: read ? messageOf.get(conversationId)! : 0,
              // The counters behind unreadCount, as Parley keeps them: the one message is settled once read.
              settled_count: read ? 1 : 0,
            };
          }),
        ),
      );
    }
    await trx('conversations')
      .where('created_by', ownerId)
      .update({
        message_count: 1,
        last_message_id: trx('messages')
          .max('id')
          .where('messages.conversation_id', trx.ref('conversations.id')),
      });
  });
}

describe('GET /conversations with 500 conversations', () => {
  // The push dispatcher reads the log after every send: its statements are not the list's.
  const t = useServer({ users: ['ned', 'ola', 'pia'], env: { PUSH_ENABLED: 'false' } });
  const { ned, ola, pia } = t.users;
  before(async () => {
    // 500 groups with roles, a last message each and half of them read: everything the list shows.
    // Written straight to the database: 1,500 API calls would take a minute on a shared CI core,
    // and what is measured here is the read.
    await seedGroups(t.server, Number(ned.id), [Number(ola.id), Number(pia.id)], 500);
  });

  const countQueries = async (user: TestUser, path: string) => {
    // The node's hub reads after the sends before (the tail, the audiences) are not the list's work.
    await hubCaughtUp(t.server);
    const { statements, result } = await countStatements(t.server.parley.deps.db, () => user.api.get(path));
    expect(result.status).to.equal(200);
    return { queries: statements, body: result.body };
  };

  it('runs the same number of queries for every page of 200 as for a list of one', async () => {
    const [quinn, ray] = await Promise.all([t.signUp('quinn'), t.signUp('ray')]);
    await send(ray, await group(quinn, [ray], 'one'), 'hi');
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
