import type { ServerResponse } from 'node:http';
import pg from 'pg';
import { json, listen, liveStream, messageJson, readBody } from './common.ts';

// Floor for "cluster": one of several nodes on one PostgreSQL database. POST
// /conversations/:id/message inserts the message with `pg` (one INSERT … RETURNING) and broadcasts
// its event with NOTIFY; every node LISTENs and writes the frame, built once, to its open SSE
// streams. No framework, auth, validation or event log.
const schema = process.env.FLOOR_PG_SCHEMA!;
const channel = `floor_${schema}`;
const senderId = Number(process.env.FLOOR_SENDER_ID);
const pool = new pg.Pool({ connectionString: process.env.FLOOR_PG_URL, max: 10 });
const listener = new pg.Client({ connectionString: process.env.FLOOR_PG_URL });
const streams = new Set<ServerResponse>();
const table = `"${schema}".messages`;

await listener.connect();
listener.on('notification', (n) => {
  const event = n.payload!;
  const id = /^\{"id":"(\d+)"/.exec(event)?.[1];
  const frame = `id: ${id}\nevent: message.created\ndata: ${event}\n\n`;
  for (const s of streams) s.write(frame);
});
await listener.query(`LISTEN "${channel}"`);

const route = /^\/conversations\/(\d+)\/message$/;

listen(
  async (req, res) => {
    if (req.method === 'GET' && req.url === '/health') return json(res, 200, '{"status":"ok"}');
    if (req.method === 'GET' && req.url?.startsWith('/events')) {
      return liveStream(req, res, streams);
    }
    const match = route.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) return json(res, 404, '{}');
    const input = JSON.parse(await readBody(req)) as { body: string; clientMessageId?: string };
    const { rows } = await pool.query(
      `INSERT INTO ${table} (conversation_id, sender_id, body, client_message_id, created_at)
       VALUES ($1, $2, $3, $4, $5) RETURNING id, conversation_id, sender_id, body, client_message_id, created_at, edited_at`,
      [Number(match[1]), senderId, input.body, input.clientMessageId ?? null, new Date().toISOString()],
    );
    const message = messageJson(rows[0]);
    const event = `{"id":"${rows[0].id}","type":"message.created","at":"${new Date().toISOString()}","data":${message}}`;
    await pool.query('SELECT pg_notify($1, $2)', [channel, event]);
    res.setHeader('Location', `${req.url}/${rows[0].id}`);
    json(res, 201, message);
  },
  () => {
    for (const s of streams) s.end();
    void listener.end();
    void pool.end();
  },
);
