import { expect } from 'chai';
import pg from 'pg';
import { direct, poll, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { describeOnPostgres, PG_BASE_URL, schemaFor } from '../helpers/postgres.ts';
import { type SseFrame, SseReader } from '../helpers/sse.ts';

const isMessage = (f: SseFrame) => f.event === 'message.created';
const bodyOf = (f: SseFrame): string => JSON.parse(f.data!).data.body;

describeOnPostgres('the event log on PostgreSQL', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const { alice, bob } = t.users;
  let conversationId: string;
  /** A second session on the server's schema: a transaction that other code holds open. */
  let other: pg.Client;

  before(async () => {
    conversationId = await direct(alice, bob);
  });

  beforeEach(async () => {
    other = new pg.Client({ connectionString: PG_BASE_URL });
    await other.connect();
    await other.query(`SET search_path TO "${schemaFor(t.server.dir)}"`);
  });

  afterEach(async () => {
    await other.end();
  });

  it('delivers an event that commits after a later one, in (tx, id) order, skipping neither', async () => {
    const { body: before } = await poll(bob, { timeout: 0 });
    const stream = await SseReader.live(t.url, bob.token);
    try {
      // The slow transaction takes the smaller event id, then a message commits ahead of it.
      await other.query('BEGIN');
      const data = {
        id: '999999',
        conversationId,
        senderId: alice.id,
        body: 'committed late',
        ciphertext: null,
        clientMessageId: null,
        createdAt: new Date().toISOString(),
        editedAt: null,
      };
      await other.query(
        `INSERT INTO events (type, conversation_id, data, at) VALUES ('message.created', $1, $2, $3)`,
        [Number(conversationId), JSON.stringify(data), data.createdAt],
      );
      await send(alice, conversationId, 'committed first');
      await stream.expectSilence(300);
      await other.query('COMMIT');

      const streamed = [await stream.waitFor(isMessage), await stream.waitFor(isMessage)];
      expect(streamed.map(bodyOf)).to.deep.equal(['committed late', 'committed first']);
      const { body } = await poll(bob, { cursor: before.cursor, timeout: 0 });
      expect(body.events.map((e: { data: { body: string } }) => e.data.body)).to.deep.equal([
        'committed late',
        'committed first',
      ]);
    } finally {
      stream.close();
    }
  });

  it('gives GET /conversations/{id} an eventCursor that repeats nothing held back at the time', async () => {
    await other.query('BEGIN');
    await other.query('SELECT pg_current_xact_id()');
    await send(alice, conversationId, 'in the history already');
    const reading = bob.api.get(`/conversations/${conversationId}`);
    await other.query('COMMIT');
    const { status, body } = await reading;
    expect(status).to.equal(200);
    expect(body.messages.at(-1).body).to.equal('in the history already');
    const stream = await SseReader.live(t.url, bob.token, { cursor: body.eventCursor });
    try {
      await send(alice, conversationId, 'after the read');
      expect(bodyOf(await stream.waitFor(isMessage))).to.equal('after the read');
      expect(stream.buffered.filter(isMessage)).to.have.length(0);
    } finally {
      stream.close();
    }
  });

  it('delivers events held back by a transaction that writes no event, once it ends', async () => {
    const stream = await SseReader.live(t.url, bob.token);
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()'); // holds the horizon, like any writer would
      await send(alice, conversationId, 'held back');
      await stream.expectSilence(300);
      // Ends without an event, so no NOTIFY: the node looks again while events are held back.
      await other.query('COMMIT');
      expect(bodyOf(await stream.waitFor(isMessage, 2000))).to.equal('held back');
    } finally {
      stream.close();
    }
  });

  it('delivers an event held back by a transaction that ends just after the send, before anyone looks again', async () => {
    // The node read the log while the other transaction held the horizon, and that transaction
    // ended before the first re-check: the re-check finds nothing held back any more, and must
    // still wake the readers once, or the message waits for the next commit.
    const stream = await SseReader.live(t.url, bob.token);
    try {
      for (let i = 0; i < 10; i++) {
        await other.query('BEGIN');
        await other.query('SELECT pg_current_xact_id()');
        await send(alice, conversationId, `released ${i}`);
        await other.query('COMMIT');
        const frame = await stream.waitFor(isMessage, 2000);
        expect(bodyOf(frame)).to.equal(`released ${i}`);
      }
    } finally {
      stream.close();
    }
  });
});
