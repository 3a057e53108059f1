import { expect } from 'chai';
import { group, send } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { SseReader } from '../helpers/sse.ts';

describe('POST /conversations/:id/read', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });
  const { alice, bob, carol } = t.users;

  const newGroup = () => group(alice, [bob], 'reads');
  /** Sends and returns the message's id. */
  const sendId = async (from: TestUser, id: string, body: string) =>
    (await send(from, id, body)).id as string;
  const unreadOf = async (user: TestUser, id: string) =>
    (await user.api.get(`/conversations/${id}?limit=1`)).body.conversation.unreadCount as number;

  it('marks everything up to the message read and tells the other members with receipt.updated', async () => {
    const id = await newGroup();
    const first = await sendId(alice, id, 'one');
    const second = await sendId(alice, id, 'two');
    await sendId(alice, id, 'three');
    expect(await unreadOf(bob, id)).to.equal(3);
    const aliceStream = await SseReader.live(t.url, alice.token);
    try {
      const res = await bob.api.post(`/conversations/${id}/read`, { messageId: second });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({
        conversationId: id,
        userId: bob.id,
        lastReadMessageId: second,
        lastDeliveredMessageId: second,
        unreadCount: 1,
      });
      const event = await aliceStream.nextEvent();
      expect(event.type).to.equal('receipt.updated');
      expect(event.data).to.deep.equal({
        conversationId: id,
        userId: bob.id,
        lastReadMessageId: second,
        lastDeliveredMessageId: second,
      });
      expect(event.id).to.be.a('string');
    } finally {
      aliceStream.close();
    }
    expect(await unreadOf(bob, id)).to.equal(1);
    const list = await bob.api.get('/conversations');
    expect(list.body.conversations.find((c: { id: string }) => c.id === id).unreadCount).to.equal(1);
    expect(first).to.be.a('string');
  });

  it('never moves the read mark backwards', async () => {
    const id = await newGroup();
    const early = await sendId(alice, id, 'early');
    const late = await sendId(alice, id, 'late');
    const aliceStream = await SseReader.live(t.url, alice.token);
    try {
      await bob.api.post(`/conversations/${id}/read`, { messageId: late });
      expect((await aliceStream.nextEvent()).data.lastReadMessageId).to.equal(late);
      const back = await bob.api.post(`/conversations/${id}/read`, { messageId: early });
      expect(back.status).to.equal(200);
      expect(back.body).to.include({ lastReadMessageId: late, unreadCount: 0 });
      // No second receipt: the next thing Alice sees is the message sent after the stale read.
      await sendId(bob, id, 'next');
      expect((await aliceStream.nextEvent()).type).to.equal('message.created');
    } finally {
      aliceStream.close();
    }
    expect(await unreadOf(bob, id)).to.equal(0);
  });

  it('keeps unread counts exact under concurrent sends and reads', async () => {
    const id = await newGroup();
    const sends = Array.from({ length: 30 }, (_, i) => sendId(alice, id, `m${i}`));
    // Bob reads each message as soon as its send returns, racing the remaining sends.
    const reads = sends.map(async (sent) =>
      bob.api.post(`/conversations/${id}/read`, { messageId: await sent }).then((r) => r.status),
    );
    const ids = (await Promise.all(sends)).map(Number);
    expect(await Promise.all(reads)).to.deep.equal(ids.map(() => 200));
    const newest = String(Math.max(...ids));
    const state = await bob.api.get(`/conversations/${id}?limit=1`);
    expect(state.body.conversation.unreadCount).to.equal(0);
    const more = await Promise.all([sendId(alice, id, 'x'), sendId(alice, id, 'y')]);
    expect(await unreadOf(bob, id)).to.equal(2);
    const stale = await bob.api.post(`/conversations/${id}/read`, { messageId: newest });
    expect(stale.body).to.include({ lastReadMessageId: newest, unreadCount: 2 });
    const latest = String(Math.max(...more.map(Number)));
    const mark = await bob.api.post(`/conversations/${id}/read`, { messageId: latest });
    expect(mark.body).to.include({ lastReadMessageId: latest, unreadCount: 0 });
  });

  it('counts only others’ messages as unread', async () => {
    const id = await newGroup();
    await sendId(bob, id, 'from bob');
    expect(await unreadOf(bob, id)).to.equal(0);
    expect(await unreadOf(alice, id)).to.equal(1);
  });

  it('answers 404 to someone not in the conversation and 400 for a malformed id', async () => {
    const id = await newGroup();
    const message = await sendId(alice, id, 'hi');
    expect((await carol.api.post(`/conversations/${id}/read`, { messageId: message })).status).to.equal(404);
    expect((await bob.api.post(`/conversations/${id}/read`, { messageId: 'abc' })).status).to.equal(400);
  });
});
