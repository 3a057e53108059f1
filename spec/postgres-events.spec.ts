import { expect } from 'chai';
import pg from 'pg';
import { signUp, type TestUser } from './helpers/client.ts';
import { onPostgres, PG_BASE_URL, schemaFor } from './helpers/postgres.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { converse, poll, type SseFrame, SseReader, say } from './helpers/sse.ts';

const isMessage = (f: SseFrame) => f.event === 'message.created';
const bodyOf = (f: SseFrame): string => JSON.parse(f.data!).data.body;

if (!onPostgres) {
  describe('the event log on PostgreSQL', () => {
    it.skip(
      'runs only on PostgreSQL (PARLEY_TEST_DB=postgres; npm test does so when 127.0.0.1:5432 answers)',
    );
  });
} else {
  describe('the event log on PostgreSQL', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let conversationId: string;
    /** A second session on the server's schema: a transaction that other code holds open. */
    let other: pg.Client;

    before(async () => {
      server = await startServer();
      alice = await signUp(server.url, 'alice');
      bob = await signUp(server.url, 'bob');
      conversationId = await converse(alice, bob);
    });

    beforeEach(async () => {
      other = new pg.Client({ connectionString: PG_BASE_URL });
      await other.connect();
      await other.query(`SET search_path TO "${schemaFor(server.dir)}"`);
    });

    afterEach(async () => {
      await other.end();
    });

    after(async () => {
      await server.close();
    });

    it('delivers an event that commits after a later one, in (tx, id) order, skipping neither', async () => {
      const { body: before } = await poll(bob, { timeout: 0 });
      const stream = await SseReader.live(server.url, bob.token);
      try {
        // The slow transaction takes the smaller event id, then a message commits ahead of it.
        await other.query('BEGIN');
        const data = {
          id: '999999',
          conversationId,
          senderId: alice.id,
          body: 'committed late',
          clientMessageId: null,
          createdAt: new Date().toISOString(),
          editedAt: null,
        };
        await other.query(
          `INSERT INTO events (type, conversation_id, data, at) VALUES ('message.created', $1, $2, $3)`,
          [Number(conversationId), JSON.stringify(data), data.createdAt],
        );
        await say(alice, conversationId, 'committed first');
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
      await say(alice, conversationId, 'in the history already');
      const reading = bob.api.get(`/conversations/${conversationId}`);
      await other.query('COMMIT');
      const { status, body } = await reading;
      expect(status).to.equal(200);
      expect(body.messages.at(-1).body).to.equal('in the history already');
      const stream = await SseReader.live(server.url, bob.token, { cursor: body.eventCursor });
      try {
        await say(alice, conversationId, 'after the read');
        expect(bodyOf(await stream.waitFor(isMessage))).to.equal('after the read');
        expect(stream.buffered.filter(isMessage)).to.have.length(0);
      } finally {
        stream.close();
      }
    });

    it('delivers events held back by a transaction that writes no event, once it ends', async () => {
      const stream = await SseReader.live(server.url, bob.token);
      try {
        await other.query('BEGIN');
        await other.query('SELECT pg_current_xact_id()'); // holds the horizon, like any writer would
        await say(alice, conversationId, 'held back');
        await stream.expectSilence(300);
        // Ends without an event, so no NOTIFY: the node looks again while events are held back.
        await other.query('COMMIT');
        expect(bodyOf(await stream.waitFor(isMessage, 2000))).to.equal('held back');
      } finally {
        stream.close();
      }
    });
  });
}
