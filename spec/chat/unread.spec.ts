import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import knex from 'knex';
import { knexConfig } from '../../lib/dialects/index.ts';
import { group } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

/**
 * unreadCount is kept as counters (lib/store/conversations.ts). These specs hold it to its
 * definition — the others' messages after the member's read mark that the member may see —
 * computed here from the history and the receipts after every step.
 */
describe('unreadCount', () => {
  const t = useServer({ users: ['ann', 'ben', 'cid', 'dot'] });
  let ann: TestUser;
  let ben: TestUser;
  let cid: TestUser;
  let dot: TestUser;
  let conversationId: string;
  before(async () => {
    ({ ann, ben, cid, dot } = t.users);
    conversationId = await group(ann, [ben, cid], 'counts');
  });

  const send = async (user: TestUser, body: string): Promise<string> => {
    const res = await user.api.post(`/conversations/${conversationId}/message`, { body });
    expect(res.status).to.equal(201);
    return res.body.id;
  };

  /** What unreadCount must be, from the member's own view of the history and their read mark. */
  const expectedUnread = async (user: TestUser): Promise<number> => {
    const history = await user.api.get(`/conversations/${conversationId}?limit=100`);
    const receipts = await user.api.get(`/conversations/${conversationId}/receipts`);
    const mine = receipts.body.receipts.find((r: { userId: string }) => r.userId === user.id);
    const mark = Number(mine.lastReadMessageId ?? 0);
    return history.body.messages.filter(
      (m: { id: string; senderId: string }) => m.senderId !== user.id && Number(m.id) > mark,
    ).length;
  };

  const expectCountsOf = async (members: TestUser[], counts: number[]) => {
    for (const [i, user] of members.entries()) {
      const shown = (await user.api.get(`/conversations/${conversationId}?limit=1`)).body.conversation
        .unreadCount;
      const listed = (await user.api.get('/conversations')).body.conversations.find(
        (c: { id: string }) => c.id === conversationId,
      ).unreadCount;
      expect({ user: user.username, shown, listed }).to.deep.equal({
        user: user.username,
        shown: counts[i],
        listed: counts[i],
      });
      expect(await expectedUnread(user)).to.equal(counts[i]);
    }
  };

  it('follows sends, reads, deletions of read and unread messages, and joining', async () => {
    const a1 = await send(ann, 'a1');
    await send(ann, 'a2');
    await send(ben, 'b1');
    const b2 = await send(ben, 'b2');
    await expectCountsOf([ann, ben, cid], [2, 0, 4]);

    // Sending reads everything before: ben has read ann's. Cid reads up to b1.
    expect(
      (await cid.api.post(`/conversations/${conversationId}/read`, { messageId: String(Number(b2) - 1) }))
        .body.unreadCount,
    ).to.equal(1);
    const a3 = await send(ann, 'a3');
    await expectCountsOf([ann, ben, cid], [0, 1, 2]);

    // A read message and an unread one go.
    expect((await ann.api.delete(`/conversations/${conversationId}/message/${a1}`)).status).to.equal(204);
    expect((await ben.api.delete(`/conversations/${conversationId}/message/${b2}`)).status).to.equal(204);
    await expectCountsOf([ann, ben, cid], [0, 1, 1]);

    // A newcomer starts with nothing unread, then counts what follows.
    expect(
      (await ann.api.post(`/conversations/${conversationId}/participants`, { userIds: [dot.id] })).status,
    ).to.equal(200);
    await expectCountsOf([dot], [0]);
    await send(cid, 'c1');
    await expectCountsOf([ann, ben, cid, dot], [1, 2, 0, 1]);

    // Deleting the newest message the newcomer never saw, and one from before they joined.
    expect((await ann.api.delete(`/conversations/${conversationId}/message/${a3}`)).status).to.equal(204);
    await expectCountsOf([ann, ben, cid, dot], [1, 1, 0, 1]);

    // Reading everything, with a mark beyond the newest message.
    for (const user of [ann, ben, cid, dot]) {
      await user.api.post(`/conversations/${conversationId}/read`, { messageId: '999999' });
    }
    await expectCountsOf([ann, ben, cid, dot], [0, 0, 0, 0]);
  });
});

describe('the unread-counters migration', () => {
  it('counts what was there before it, as the old query did', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-unread-'));
    const db = knex(knexConfig({ client: 'sqlite', filename: join(dir, 'parley.db') }));
    try {
      // The schema as it was before the counters.
      for (let i = 0; i < 3; i++) await db.migrate.up();
      const at = new Date().toISOString();
      const user = (name: string) => ({
        username: name,
        username_key: name,
        display_name: name,
        display_name_key: name,
        password_hash: 'x',
        created_at: at,
        updated_at: at,
      });
      const [u1, u2, u3] = (
        await db('users')
          .insert([user('u1'), user('u2'), user('u3')])
          .returning('id')
      ).map((r: { id: number }) => r.id);
      const [conversation] = await db('conversations')
        .insert({
          type: 'group',
          title: 'old',
          created_by: u1,
          last_activity_at: at,
          created_at: at,
          updated_at: at,
        })
        .returning('id');
      const cid = (conversation as { id: number }).id;
      const ids: number[] = [];
      for (const sender of [u1, u2, u1, u2, u1]) {
        const [m] = await db('messages')
          .insert({ conversation_id: cid, sender_id: sender, body: 'm', created_at: at })
          .returning('id');
        ids.push((m as { id: number }).id);
      }
      const member = (userId: number, lastRead: number, visibleAfter: number) => ({
        conversation_id: cid,
        user_id: userId,
        role: 'member',
        joined_at: at,
        joined_event_id: 0,
        last_read_message_id: lastRead,
        visible_after_message_id: visibleAfter,
      });
      // u1 read up to the 2nd message; u2 nothing; u3 joined after the 3rd.
      await db('memberships').insert([member(u1!, ids[1]!, 0), member(u2!, 0, 0), member(u3!, 0, ids[2]!)]);

      await db.migrate.latest();
      const rows = await db('memberships as m')
        .join('conversations as c', 'c.id', 'm.conversation_id')
        .select('m.user_id', db.raw('c.message_count - m.settled_count AS unread'))
        .orderBy('m.user_id');
      // u1: u2's 4th; u2: u1's 1st, 3rd, 5th; u3: the 4th and 5th.
      expect(rows.map((r: { unread: number }) => Number(r.unread))).to.deep.equal([1, 3, 2]);
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
