import { expect } from 'chai';
import { signUp, type TestUser } from './helpers/client.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { SseReader } from './helpers/sse.ts';

// Delivered marks are written in batches every DELIVERY_FLUSH_MS; short here to keep specs fast.
const FLUSH_MS = 100;

describe('delivered and read status', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  before(async () => {
    server = await startServer({ DELIVERY_FLUSH_MS: String(FLUSH_MS) });
    const users = await Promise.all(['alice', 'bob', 'carol'].map((p) => signUp(server.url, p)));
    [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
  });
  after(() => server.close());

  const conversation = async (others: TestUser[], title?: string) => {
    const res = await alice.api.post('/conversations', { participantIds: others.map((o) => o.id), title });
    return res.body.id as string;
  };
  const send = async (id: string, body: string) =>
    (await alice.api.post(`/conversations/${id}/message`, { body })).body.id as string;
  const statusOf = async (id: string, messageId: string) =>
    (await alice.api.get(`/conversations/${id}/message/${messageId}/receipts`)).body;
  const receiptFrom = (stream: SseReader, userId: string) =>
    stream
      .nextFrame((f) => f.event === 'receipt.updated' && JSON.parse(f.data!).data.userId === userId)
      .then((f) => JSON.parse(f.data!));

  it('flips to delivered when a later poll acknowledges the message', async () => {
    const id = await conversation([bob], 'polls');
    const aliceStream = await SseReader.live(server.url, alice.token);
    try {
      const first = await bob.api.get('/events/poll?timeout=0');
      const messageId = await send(id, 'are you there?');
      const got = await bob.api.get(`/events/poll?cursor=${first.body.cursor}&timeout=0`);
      expect(got.body.events.map((e: { type: string }) => e.type)).to.deep.equal(['message.created']);
      // Answered, not yet acknowledged: bob's client may never have seen that answer.
      await new Promise((resolve) => setTimeout(resolve, FLUSH_MS * 2));
      expect((await statusOf(id, messageId)).status).to.equal('sent');
      await bob.api.get(`/events/poll?cursor=${got.body.cursor}&timeout=0`);
      const receipt = await receiptFrom(aliceStream, bob.id);
      expect(receipt.data).to.deep.equal({
        conversationId: id,
        userId: bob.id,
        lastReadMessageId: null,
        lastDeliveredMessageId: messageId,
      });
      expect(await statusOf(id, messageId)).to.deep.equal({
        conversationId: id,
        messageId,
        status: 'delivered',
        recipientCount: 1,
        deliveredCount: 1,
        readCount: 0,
        deliveredTo: [bob.id],
        readBy: [],
      });
    } finally {
      aliceStream.close();
    }
  });

  it('does not count a cursor from beyond the log (answered with reset) as an acknowledgement', async () => {
    const id = await conversation([bob], 'future cursor');
    const messageId = await send(id, 'not seen yet');
    const polled = await bob.api.get('/events/poll?cursor=9999999999-9999999999&timeout=0');
    expect(polled.body.events.map((e: { type: string }) => e.type)).to.deep.equal(['reset']);
    // Nothing can be awaited for "stays sent": give the batch writer two rounds.
    await new Promise((resolve) => setTimeout(resolve, FLUSH_MS * 2));
    expect((await statusOf(id, messageId)).status).to.equal('sent');
  });

  it('flips to delivered once the message is written to one of the recipient’s streams', async () => {
    const id = await conversation([bob], 'streams');
    const aliceStream = await SseReader.live(server.url, alice.token);
    const bobStream = await SseReader.live(server.url, bob.token);
    try {
      const messageId = await send(id, 'live');
      expect((await bobStream.nextOfType('message.created')).data.id).to.equal(messageId);
      const receipt = await receiptFrom(aliceStream, bob.id);
      expect(receipt.data.lastDeliveredMessageId).to.equal(messageId);
      expect((await statusOf(id, messageId)).status).to.equal('delivered');
    } finally {
      aliceStream.close();
      bobStream.close();
    }
  });

  it('writes delivered marks in batches, not one per message', async () => {
    const id = await conversation([bob], 'burst');
    const aliceStream = await SseReader.live(server.url, alice.token);
    const bobStream = await SseReader.live(server.url, bob.token);
    try {
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => send(id, `burst ${i}`)));
      const newest = String(Math.max(...ids.map(Number)));
      const receipts = [];
      for (;;) {
        const receipt = await receiptFrom(aliceStream, bob.id);
        receipts.push(receipt);
        if (receipt.data.lastDeliveredMessageId === newest) break;
      }
      expect(receipts.length).to.be.below(ids.length);
      const statuses = await Promise.all(ids.map((m) => statusOf(id, m)));
      expect(statuses.map((s) => s.status)).to.deep.equal(ids.map(() => 'delivered'));
    } finally {
      aliceStream.close();
      bobStream.close();
    }
  });

  it('shows read, with counts and lists in a group', async () => {
    const id = await conversation([bob, carol], 'group');
    const messageId = await send(id, 'everyone read this');
    await bob.api.post(`/conversations/${id}/read`, { messageId });
    expect(await statusOf(id, messageId)).to.include({
      status: 'sent',
      recipientCount: 2,
      deliveredCount: 1,
      readCount: 1,
    });
    await carol.api.post(`/conversations/${id}/read`, { messageId });
    const status = await statusOf(id, messageId);
    expect(status).to.include({ status: 'read', deliveredCount: 2, readCount: 2 });
    expect(status.readBy).to.have.members([bob.id, carol.id]);
    const marks = await carol.api.get(`/conversations/${id}/receipts`);
    expect(marks.status).to.equal(200);
    const byUser = Object.fromEntries(
      marks.body.receipts.map((r: { userId: string; lastReadMessageId: string }) => [
        r.userId,
        r.lastReadMessageId,
      ]),
    );
    expect(byUser).to.deep.equal({ [alice.id]: messageId, [bob.id]: messageId, [carol.id]: messageId });
  });

  it('does not count members who joined after the message', async () => {
    const id = await conversation([bob], 'late joiner');
    const messageId = await send(id, 'before carol');
    await alice.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] });
    await bob.api.post(`/conversations/${id}/read`, { messageId });
    expect(await statusOf(id, messageId)).to.include({ status: 'read', recipientCount: 1 });
    expect((await carol.api.get(`/conversations/${id}/message/${messageId}/receipts`)).status).to.equal(404);
  });
});
