import { json, listen, openDb, sseHead } from './common.ts';

// Floor for "catch-up": replays the same event rows Parley's log holds, in the same batch size,
// as SSE frames (GET /events?cursor=) or long-poll answers (GET /events/poll?cursor=&timeout=0).
const db = openDb(process.env.FLOOR_DB!);
const BATCH = Number(process.env.POLL_BATCH_SIZE ?? 500);
const after = db.prepare('SELECT id, type, data, at FROM events WHERE id > ? ORDER BY id LIMIT ?');
type Row = { id: number; type: string; data: string; at: string };
const eventJson = (r: Row) => `{"id":"${r.id}","type":"${r.type}","at":"${r.at}","data":${r.data}}`;

listen(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://floor');
  const cursor = Number(url.searchParams.get('cursor') ?? 0);
  if (url.pathname === '/health') return json(res, 200, '{"status":"ok"}');
  if (url.pathname === '/events/poll') {
    const rows = after.all(cursor, BATCH) as Row[];
    const next = rows.at(-1)?.id ?? cursor;
    return json(res, 200, `{"events":[${rows.map(eventJson).join(',')}],"cursor":"${next}"}`);
  }
  if (url.pathname === '/events') {
    sseHead(req, res);
    let position = cursor;
    for (;;) {
      const rows = after.all(position, BATCH) as Row[];
      for (const r of rows) res.write(`id: ${r.id}\nevent: ${r.type}\ndata: ${eventJson(r)}\n\n`);
      if (rows.length < BATCH) break;
      position = rows.at(-1)!.id;
      // Let the socket drain between batches, as an async database read would.
      await new Promise((r) => setImmediate(r));
    }
    res.write(': live\n\n');
    return;
  }
  json(res, 404, '{}');
});
