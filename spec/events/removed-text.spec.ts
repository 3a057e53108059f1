import { expect } from 'chai';
import { direct, poll, send } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { SseReader } from '../helpers/sse.ts';

/**
 * Issue 12, item 19: the contract says the event log holds no text its owner removed — after a
 * delete or an edit, a replay from an earlier cursor returns no earlier body.
 */
describe('replaying events after a message is deleted or edited', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  let n = 0;
  const secret = () => `secret text ${process.pid} ${++n}`;

  /** Bob's events from `cursor` by long-poll, until (and with) the first of type `until`. */
  async function polled(bob: TestUser, cursor: string, until: string): Promise<any[]> {
    const events: any[] = [];
    for (let tries = 0; tries < 20; tries++) {
      const res = await poll(bob, { cursor, timeout: 5 });
      expect(res.status, res.text).to.equal(200);
      events.push(...res.body.events);
      cursor = res.body.cursor;
      if (events.some((e) => e.type === until)) return events;
    }
    throw new Error(`no ${until} event`);
  }

  /** Bob's events from `cursor` by SSE, until (and with) the first of type `until`. */
  async function streamed(bob: TestUser, cursor: string, until: string): Promise<any[]> {
    const stream = await SseReader.open(t.url, `/events?cursor=${encodeURIComponent(cursor)}`, bob.token);
    try {
      expect(stream.status).to.equal(200);
      const events: any[] = [];
      for (;;) {
        const event = await stream.nextEvent();
        events.push(event);
        if (event.type === until) return events;
      }
    } finally {
      stream.close();
    }
  }

  const replays = { 'long-poll': polled, SSE: streamed };

  for (const [transport, replay] of Object.entries(replays)) {
    it(`returns no text of a deleted message (${transport})`, async () => {
      const { alice, bob } = t.users;
      const id = await direct(alice, bob);
      const cursor = (await bob.api.get('/conversations')).body.eventCursor;
      const text = secret();
      const message = await send(alice, id, text);
      const edited = await alice.api.put(`/conversations/${id}/message/${message.id}`, {
        body: `${text} v2`,
      });
      expect(edited.status, edited.text).to.equal(200);
      const after = await send(alice, id, 'still here');
      expect((await alice.api.delete(`/conversations/${id}/message/${message.id}`)).status).to.equal(204);
      const events = await replay(bob, cursor, 'message.deleted');
      expect(JSON.stringify(events)).not.to.include(text);
      // The tombstone, and the message that was not deleted, are still there.
      expect(events.at(-1).data).to.deep.equal({ conversationId: id, messageId: message.id });
      expect(events.filter((e) => e.type === 'message.created').map((e) => e.data.id)).to.include(after.id);
    });

    it(`returns only the newest text of an edited message (${transport})`, async () => {
      const { alice, bob } = t.users;
      const id = await direct(alice, bob);
      const cursor = (await bob.api.get('/conversations')).body.eventCursor;
      const first = secret();
      const second = secret();
      const message = await send(alice, id, first);
      for (const body of [second, 'the final text']) {
        const res = await alice.api.put(`/conversations/${id}/message/${message.id}`, { body });
        expect(res.status, res.text).to.equal(200);
      }
      const events = await replay(bob, cursor, 'message.updated');
      const text = JSON.stringify(events);
      expect(text).not.to.include(first);
      expect(text).not.to.include(second);
      const created = events.find((e) => e.type === 'message.created');
      expect(created.data).to.include({ id: message.id, body: 'the final text' });
      expect(created.data.editedAt).to.be.a('string');
      // Each event keeps its place in the order: one creation, then the updates.
      const types = events.filter((e) => e.data.id === message.id).map((e) => e.type);
      expect(types[0]).to.equal('message.created');
      expect(types.length).to.be.above(1);
      expect(types.slice(1).every((x) => x === 'message.updated')).to.equal(true);
    });
  }
});
