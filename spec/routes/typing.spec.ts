import { expect } from 'chai';
import { direct } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { SseReader } from '../helpers/sse.ts';

describe('POST /conversations/:id/typing', () => {
  const t = useServer({
    users: ['alice', 'bob', 'carol'],
    env: { TYPING_PER_WINDOW: '10', TYPING_WINDOW_SECONDS: '60' },
  });
  const { alice, bob, carol } = t.users;
  let conversationId: string;
  before(async () => {
    conversationId = await direct(alice, bob);
  });

  it('sends an ephemeral typing event, without an id, to the other members’ streams only', async () => {
    const bobStream = await SseReader.live(t.url, bob.token);
    const aliceStream = await SseReader.live(t.url, alice.token);
    try {
      const before = Date.now();
      const res = await alice.api.post(`/conversations/${conversationId}/typing`);
      expect(res.status).to.equal(204);
      const frame = await bobStream.nextFrame((f) => f.data !== undefined);
      expect(frame.event).to.equal('typing');
      expect(frame.id).to.equal(undefined);
      const event = JSON.parse(frame.data!);
      expect(event).not.to.have.property('id');
      expect(event.type).to.equal('typing');
      expect(event.data).to.include({ conversationId, userId: alice.id });
      expect(Date.parse(event.data.expiresAt)).to.be.greaterThan(before);
      // The typist's own stream gets nothing for it: its next event is the message sent afterwards.
      await alice.api.post(`/conversations/${conversationId}/message`, { body: 'done typing' });
      expect((await aliceStream.nextEvent()).type).to.equal('message.created');
    } finally {
      bobStream.close();
      aliceStream.close();
    }
  });

  it('wakes a waiting long-poll without moving its cursor', async () => {
    const { eventCursor } = (await bob.api.get('/conversations')).body;
    const poll = bob.api.get(`/events/poll?cursor=${eventCursor}&timeout=10`);
    // The poll is waiting once its subscription exists; typing until it answers avoids a fixed sleep.
    let answered = false;
    void poll.then(() => {
      answered = true;
    });
    while (!answered) {
      await alice.api.post(`/conversations/${conversationId}/typing`);
      await Promise.race([poll, new Promise((r) => setTimeout(r, 50))]);
    }
    const res = await poll;
    expect(res.status).to.equal(200);
    expect(res.body.events.map((e: { type: string }) => e.type)).to.include('typing');
    expect(res.body.events[0]).not.to.have.property('id');
    expect(res.body.cursor).to.equal(eventCursor);
  });

  it('is not replayed on resume', async () => {
    const { eventCursor } = (await bob.api.get('/conversations')).body;
    expect((await alice.api.post(`/conversations/${conversationId}/typing`)).status).to.equal(204);
    await alice.api.post(`/conversations/${conversationId}/message`, { body: 'after typing' });
    const resumed = await SseReader.live(t.url, bob.token, { cursor: eventCursor });
    try {
      await alice.api.post(`/conversations/${conversationId}/message`, { body: 'live' });
      const [first, second] = await resumed.events(2);
      expect([first!.type, first!.data.body]).to.deep.equal(['message.created', 'after typing']);
      expect([second!.type, second!.data.body]).to.deep.equal(['message.created', 'live']);
    } finally {
      resumed.close();
    }
    const polled = await bob.api.get(`/events/poll?cursor=${eventCursor}&timeout=0`);
    expect(polled.body.events.map((e: { type: string }) => e.type)).to.deep.equal([
      'message.created',
      'message.created',
    ]);
  });

  it('answers 404 to someone not in the conversation', async () => {
    expect((await carol.api.post(`/conversations/${conversationId}/typing`)).status).to.equal(404);
  });

  it('limits typing notices per user with 429 and Retry-After', async () => {
    const limited = await t.signUp('dave');
    const conversation = await direct(limited, bob);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 11; i++) {
      const res = await limited.api.post(`/conversations/${conversation}/typing`);
      statuses.push(res.status);
      retryAfter ??= res.headers.get('retry-after');
    }
    expect(statuses).to.deep.equal([...Array(10).fill(204), 429]);
    expect(Number(retryAfter)).to.be.at.least(1);
  });
});
