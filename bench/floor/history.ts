import { json, listen, type MessageRow, messageJson, openDb } from './common.ts';

// Floor for "history": the raw indexed query behind node:http. GET /conversations/:id?before=&limit=
// returns the page oldest→newest with hasMore, like Parley, reading the same database file.
const db = openDb(process.env.FLOOR_DB!);
const newest = db.prepare(
  `SELECT id, conversation_id, sender_id, body, client_message_id, created_at, edited_at FROM messages
    WHERE conversation_id = ? ORDER BY id DESC LIMIT ?`,
);
const before = db.prepare(
  `SELECT id, conversation_id, sender_id, body, client_message_id, created_at, edited_at FROM messages
    WHERE conversation_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
);
const route = /^\/conversations\/(\d+)$/;

listen((req, res) => {
  const url = new URL(req.url ?? '/', 'http://floor');
  if (url.pathname === '/health') return json(res, 200, '{"status":"ok"}');
  const match = route.exec(url.pathname);
  if (!match) return json(res, 404, '{}');
  const limit = Number(url.searchParams.get('limit') ?? 50);
  const b = url.searchParams.get('before');
  const rows = (
    b ? before.all(Number(match[1]), Number(b), limit + 1) : newest.all(Number(match[1]), limit + 1)
  ) as MessageRow[];
  const hasMore = rows.length > limit;
  const page = rows.slice(0, limit).reverse();
  json(res, 200, `{"messages":[${page.map(messageJson).join(',')}],"hasMore":${hasMore}}`);
});
