import { expect } from 'chai';
import type { ReceiptJson } from '../../lib/chat/receipts.ts';
import { group, poll, send } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { SseReader } from '../helpers/sse.ts';
import { countStatements } from '../helpers/statements.ts';

// Delivered marks are written in batches every DELIVERY_FLUSH_MS; short here to keep specs fast.
const FLUSH_MS = 100;

describe('delivered and read status', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'], env: { DELIVERY_FLUSH_MS: String(FLUSH_MS) } });
  const { alice, bob, carol } = t.users;

  const aliceSends = async (id: string, body: string) => (await send(alice, id, body)).id as string;
  const statusOf = async (id: string, messageId: string) =>
    (await alice.api.get(`/conversations/${id}/message/${messageId}/receipts`)).body;
  const receiptFrom = (stream: SseReader, userId: string) =>
    stream
      .nextFrame((f) => f.event === 'receipt.updated' && JSON.parse(f.data!).data.userId === userId)
      .then((f) => JSON.parse(f.data!));

  it('flips to delivered when a later poll acknowledges the message', async () => {
    const id = await group(alice, [bob], 'polls');
    const aliceStream = await SseReader.live(t.url, alice.token);
    try {
      const first = await bob.api.get('/events/poll?timeout=0');
      const messageId = await aliceSends(id, 'are you there?');
      const got = await bob.api.get(`/events/poll?cursor=${first.body.cursor}&timeout=0`);
      expect(got.body.events.map((e: { type: string }) => e.type)).to.deep.equal(['message.created']);
      // Answered, not yet acknowledged: bob's client may never have seen that answer. Whatever the
      // poll reported is written by this flush.
      await t.server.parley.deps.deliveries.flush();
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

  it('answers the same at the /messages/{id}/receipts alias, and 404 to a non-member there too', async () => {
    const id = await group(alice, [bob], 'alias');
    const messageId = await aliceSends(id, 'read me');
    await bob.api.post(`/conversations/${id}/read`, { messageId });
    const alias = await alice.api.get(`/conversations/${id}/messages/${messageId}/receipts`);
    expect(alias.status).to.equal(200);
    expect(alias.body).to.deep.equal(await statusOf(id, messageId));
    expect(alias.body).to.include({ status: 'read', readCount: 1 });
    expect((await carol.api.get(`/conversations/${id}/messages/${messageId}/receipts`)).status).to.equal(404);
  });

  it('does not count a cursor from beyond the log (answered with reset) as an acknowledgement', async () => {
    const id = await group(alice, [bob], 'future cursor');
    const messageId = await aliceSends(id, 'not seen yet');
    const polled = await bob.api.get('/events/poll?cursor=9999999999-9999999999&timeout=0');
    expect(polled.body.events.map((e: { type: string }) => e.type)).to.deep.equal(['reset']);
    // "Stays sent": whatever the poll reported is written by this flush.
    await t.server.parley.deps.deliveries.flush();
    expect((await statusOf(id, messageId)).status).to.equal('sent');
  });

  it('flips to delivered once the message is written to one of the recipient’s streams', async () => {
    const id = await group(alice, [bob], 'streams');
    const aliceStream = await SseReader.live(t.url, alice.token);
    const bobStream = await SseReader.live(t.url, bob.token);
    try {
      const messageId = await aliceSends(id, 'live');
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
    const id = await group(alice, [bob], 'burst');
    const aliceStream = await SseReader.live(t.url, alice.token);
    const bobStream = await SseReader.live(t.url, bob.token);
    try {
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => aliceSends(id, `burst ${i}`)));
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
    const id = await group(alice, [bob, carol], 'group');
    const messageId = await aliceSends(id, 'everyone read this');
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
    const id = await group(alice, [bob], 'late joiner');
    const messageId = await aliceSends(id, 'before carol');
    await alice.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] });
    await bob.api.post(`/conversations/${id}/read`, { messageId });
    expect(await statusOf(id, messageId)).to.include({ status: 'read', recipientCount: 1 });
    expect((await carol.api.get(`/conversations/${id}/message/${messageId}/receipts`)).status).to.equal(404);
  });
});

describe('writing delivered marks', () => {
  // Flushed by hand, so each flush holds exactly what a spec set up. No push dispatcher: it reads
  // the log on every commit, and its statements would be counted with the flush's.
  // 31 logins from one address: above the login throttle's default, which counts every guess.
  const t = useServer({
    users: ['alice'],
    env: { DELIVERY_FLUSH_MS: String(3_600_000), LOGIN_FAILURES_PER_WINDOW: '1000', PUSH_ENABLED: 'false' },
  });
  const { alice } = t.users;
  let members: TestUser[];
  before(async () => {
    members = await Promise.all(Array.from({ length: 30 }, () => t.signUp('member')));
  });

  const marksGroup = (others: TestUser[]) => group(alice, others, 'marks');
  const flush = () => t.server.parley.deps.deliveries.flush();

  /**
   * Database statements from a flush until alice's stream has the `receipts` it sends her, the log
   * tail's reads included; without what the fan-out spec leaves out (transaction control, and
   * PostgreSQL's probe for held-back events).
   */
  async function statementsToFlush(aliceStream: SseReader, receipts: number): Promise<number> {
    const { statements } = await countStatements(t.server.parley.deps.db, async () => {
      await flush();
      for (let i = 0; i < receipts; i++) await aliceStream.nextOfType('receipt.updated');
    });
    return statements;
  }

  /** The receipt.updated events a user polls after `cursor`, as "userId:lastDeliveredMessageId". */
  async function receiptsSeen(user: TestUser, cursor: string): Promise<string[]> {
    const { body } = await poll(user, { cursor, timeout: 0 });
    return body.events
      .filter((e: { type: string }) => e.type === 'receipt.updated')
      .map((e: { data: ReceiptJson }) => `${e.data.userId}:${e.data.lastDeliveredMessageId}`)
      .sort();
  }

  /** Polls twice around `act`, so the second poll's cursor acknowledges what `act` sent. */
  async function acknowledgeAfter(users: TestUser[], act: () => Promise<unknown>): Promise<void> {
    const before = await Promise.all(users.map((u) => poll(u, { timeout: 0 })));
    await act();
    const got = await Promise.all(
      users.map((u, i) => poll(u, { cursor: before[i]!.body.cursor, timeout: 0 })),
    );
    await Promise.all(users.map((u, i) => poll(u, { cursor: got[i]!.body.cursor, timeout: 0 })));
  }

  it('runs as many statements for thirty stream recipients of a message as for three', async () => {
    const [few, all] = [await marksGroup(members.slice(0, 3)), await marksGroup(members)];
    const aliceStream = await SseReader.live(t.url, alice.token);
    const streams = await Promise.all(members.map((m) => SseReader.live(t.url, m.token)));
    try {
      const statementsFor = async (conversationId: string, readers: SseReader[]) => {
        const sent = await send(alice, conversationId, 'delivered?');
        for (const reader of readers) {
          expect((await reader.nextOfType('message.created')).data.id).to.equal(sent.id);
        }
        return statementsToFlush(aliceStream, readers.length);
      };
      const forThree = await statementsFor(few, streams.slice(0, 3));
      const forThirty = await statementsFor(all, streams);
      expect(forThirty).to.equal(forThree);
    } finally {
      for (const stream of [aliceStream, ...streams]) stream.close();
    }
  });

  it('runs as many statements for thirty polling recipients as for three', async () => {
    const [few, all] = [await marksGroup(members.slice(0, 3)), await marksGroup(members)];
    // Acknowledge what earlier specs sent, so each measured flush reads one new message.
    await acknowledgeAfter(members, async () => {});
    await flush();
    const aliceStream = await SseReader.live(t.url, alice.token);
    try {
      await acknowledgeAfter(members.slice(0, 3), () => send(alice, few, 'polled?'));
      const forThree = await statementsToFlush(aliceStream, 3);
      await acknowledgeAfter(members, () => send(alice, all, 'polled?'));
      const forThirty = await statementsToFlush(aliceStream, 30);
      expect(forThirty).to.equal(forThree);
    } finally {
      aliceStream.close();
    }
  });

  it('tells each sender about the members to whom their messages were newly delivered', async () => {
    const [bob, carol, dave] = members as [TestUser, TestUser, TestUser];
    const id = await marksGroup([bob, carol, dave]);
    const sent: string[] = [];
    await acknowledgeAfter([bob, carol, dave], async () => {
      for (const sender of [bob, carol, alice]) sent.push((await send(sender, id, 'hello')).id);
      await dave.api.post(`/conversations/${id}/read`, { messageId: sent[0] });
    });
    const cursors = await Promise.all(
      [alice, bob, carol, dave].map(async (u) => (await poll(u, { timeout: 0 })).body.cursor),
    );
    await flush();
    const newest = sent[2];
    const [toAlice, toBob, toCarol, toDave] = await Promise.all(
      [alice, bob, carol, dave].map((u, i) => receiptsSeen(u, cursors[i])),
    );
    expect(toAlice).to.deep.equal(
      [`${bob.id}:${newest}`, `${carol.id}:${newest}`, `${dave.id}:${newest}`].sort(),
    );
    // Dave had read bob's message, and carol read it when she answered: nothing new reached them from bob.
    expect(toBob).to.deep.equal([]);
    expect(toCarol).to.deep.equal([`${bob.id}:${newest}`, `${dave.id}:${newest}`].sort());
    expect(toDave).to.deep.equal([]);
  });
});
