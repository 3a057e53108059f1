import { expect } from 'chai';
import { direct, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { onPostgres } from '../helpers/postgres.ts';

interface Statement {
  sql: string;
  bindings: unknown[];
}

// How a plan reads the events of a conversation: found by its index, with the id bounded (the id
// is the rowid, which every SQLite index holds). Bounded by `rowid>?` alone the read could still
// start at the member's joining rather than at the cursor: the timings that found this are in
// migrations/20261207100000_index_sqlite_log_by_conversation.ts.
const conversationSteps = (plan: string[]) =>
  plan.filter((step) => / e USING .*\(conversation_id=/.test(step));

// SQLite plans without statistics (Parley never runs ANALYZE), so its plans follow from the schema
// and the statement alone; PostgreSQL's follow from table statistics, which a spec's few rows do
// not make realistic.
(onPostgres ? describe.skip : describe)('reads of the log seek to their cursor (SQLite plans)', () => {
  const t = useServer({ users: ['alice', 'bob'], env: { DELIVERY_FLUSH_MS: '100' } });
  const { alice, bob } = t.users;

  /** The statements `work` runs that read the events of a conversation, with their plans. */
  async function plansOf(work: () => Promise<unknown>): Promise<{ sql: string; plan: string[] }[]> {
    const seen: Statement[] = [];
    const onQuery = (q: Statement) => seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
    t.db.on('query', onQuery);
    try {
      await work();
    } finally {
      t.db.off('query', onQuery);
    }
    const reads = seen.filter((s) => /JOIN events e ON e\.conversation_id/.test(s.sql));
    return Promise.all(
      reads.map(async (s) => ({
        sql: s.sql,
        plan: (
          (await t.db.raw(`EXPLAIN QUERY PLAN ${s.sql}`, s.bindings as never)) as { detail: string }[]
        ).map((r) => r.detail),
      })),
    );
  }

  it('a poll and the delivered marks it acknowledges read from the cursor, not the whole conversation', async () => {
    const id = await direct(alice, bob);
    for (let i = 0; i < 3; i++) await send(alice, id, `before ${i}`);
    const first = await bob.api.get('/events/poll?timeout=0');
    await send(alice, id, 'after');
    const polled = await plansOf(() => bob.api.get(`/events/poll?cursor=${first.body.cursor}&timeout=0`));
    expect(polled, 'the poll reads the log once').to.have.length(1);
    // The next poll passes the cursor back: its flush reads what that acknowledged.
    const next = await bob.api.get(`/events/poll?cursor=${first.body.cursor}&timeout=0`);
    await bob.api.get(`/events/poll?cursor=${next.body.cursor}&timeout=0`);
    const flushed = await plansOf(() => t.server.parley.deps.deliveries.flush());
    expect(flushed, 'the flush reads the acknowledged range once').to.have.length(1);
    // The poll's only lower bound on the id besides the joining is its cursor.
    expect(conversationSteps(polled[0]!.plan)).to.deep.equal([
      'SEARCH e USING INDEX events_conversation_id_index (conversation_id=? AND rowid>?)',
    ]);
    // The acknowledged range is bounded on both sides.
    expect(conversationSteps(flushed[0]!.plan)).to.deep.equal([
      'SEARCH e USING INDEX events_conversation_id_index (conversation_id=? AND rowid>? AND rowid<?)',
    ]);
  });
});
