import { json, listen, messageJson, openDb, readBody } from './common.ts';

// Floor for "send": node:http + JSON.parse + one INSERT into Parley's messages table.
const db = openDb(process.env.FLOOR_DB!);
const insert = db.prepare(
  `INSERT INTO messages (conversation_id, sender_id, body, client_message_id, created_at)
   VALUES (?, ?, ?, ?, ?) RETURNING id, conversation_id, sender_id, body, client_message_id, created_at, edited_at`,
);
const route = /^\/conversations\/(\d+)\/message$/;

listen(async (req, res) => {
  const match = route.exec(req.url ?? '');
  if (req.method === 'GET' && req.url === '/health') return json(res, 200, '{"status":"ok"}');
  if (req.method !== 'POST' || !match) return json(res, 404, '{}');
  const input = JSON.parse(await readBody(req)) as { body: string; clientMessageId?: string };
  const row = insert.get(
    Number(match[1]),
    1,
    input.body,
    input.clientMessageId ?? null,
    new Date().toISOString(),
  );
  res.setHeader('Location', `${req.url}/${(row as { id: number }).id}`);
  json(res, 201, messageJson(row as never));
});
